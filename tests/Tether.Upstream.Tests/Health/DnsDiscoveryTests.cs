using System.Net;
using Tether.Configuration;
using Tether.Upstream.Destinations;
using Tether.Upstream.Health;
using Tether.Upstream.Tests.LoadBalancing;

namespace Tether.Upstream.Tests.Health;

public sealed class DnsDiscoveryTests
{
    private readonly ManualClock _clock = new();
    private readonly TestResolver _resolver = new();

    [Fact]
    public async Task A_host_name_is_replaced_by_the_addresses_it_resolves_to()
    {
        _resolver.Set("10.0.0.1", "10.0.0.2");
        using var cluster = Create();
        await cluster.ResolveNowAsync(CancellationToken.None);
        Assert.Equal(["10.0.0.1:9001", "10.0.0.2:9001"], Names(cluster));
        Assert.All(cluster.Destinations, d => Assert.Equal("backend.test", d.ResolvedFrom));
        Assert.All(cluster.Destinations, d => Assert.Equal("backend.test:9001", d.HostHeader));
    }

    [Fact]
    public async Task New_addresses_are_added_in_slow_start_and_kept_ones_keep_their_state()
    {
        _resolver.Set("10.0.0.1");
        using var cluster = Create(slowStart: TimeSpan.FromSeconds(30));
        await cluster.ResolveNowAsync(CancellationToken.None);
        var first = cluster.Destinations[0];
        first.OnPicked();

        _resolver.Set("10.0.0.1", "10.0.0.3");
        await cluster.ResolveNowAsync(CancellationToken.None);
        Assert.Equal(["10.0.0.1:9001", "10.0.0.3:9001"], Names(cluster));
        Assert.Same(first, cluster.Destinations[0]);
        Assert.Equal(HealthState.SlowStart, cluster.Destinations[1].Health.State(_clock.GetTimestamp()));
        Assert.Equal(HealthState.Healthy, first.Health.State(_clock.GetTimestamp()));
    }

    [Fact]
    public async Task A_vanished_address_drains_until_its_requests_finish()
    {
        _resolver.Set("10.0.0.1", "10.0.0.2");
        using var cluster = Create();
        await cluster.ResolveNowAsync(CancellationToken.None);
        var leaving = cluster.Destinations[1];
        Assert.True(leaving.TryEnter()); // a request in flight

        _resolver.Set("10.0.0.1");
        await cluster.ResolveNowAsync(CancellationToken.None);
        Assert.Equal(["10.0.0.1:9001"], Names(cluster));
        Assert.True(leaving.IsDraining);
        Assert.False(leaving.TryEnter()); // no new request starts there
        Assert.Equal([leaving], cluster.Draining);

        cluster.Sweep();
        Assert.Equal([leaving], cluster.Draining); // still busy
        leaving.OnRequestEnded();
        cluster.Sweep();
        Assert.Empty(cluster.Draining);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await leaving.Pool.AcquireAsync(false, CancellationToken.None));
    }

    [Fact]
    public async Task An_empty_answer_keeps_the_previous_addresses()
    {
        _resolver.Set("10.0.0.1");
        using var cluster = Create();
        await cluster.ResolveNowAsync(CancellationToken.None);
        _resolver.Set();
        await cluster.ResolveNowAsync(CancellationToken.None);
        Assert.Equal(["10.0.0.1:9001"], Names(cluster));
    }

    [Fact]
    public async Task A_request_keeps_the_set_it_ranked_while_dns_swaps_it()
    {
        _resolver.Set("10.0.0.1");
        using var cluster = Create();
        await cluster.ResolveNowAsync(CancellationToken.None);
        var before = cluster.Set;
        _resolver.Set("10.0.0.2");
        await cluster.ResolveNowAsync(CancellationToken.None);
        Assert.NotSame(before, cluster.Set);
        Assert.Equal("10.0.0.1:9001", before.Items[0].Name);
        Assert.Equal(IPAddress.Parse("10.0.0.2"), ((IPEndPoint)cluster.Set.Items[0].EndPoint).Address);
    }

    private ClusterState Create(TimeSpan slowStart = default) => new(
        "dns",
        new ClusterConfig
        {
            Destinations = [TestClusters.Destination("backend.test:9001")],
            ResolveInterval = null,
            HealthCheck = new HealthCheckConfig { SlowStart = slowStart },
        },
        _clock,
        _resolver);

    private static string[] Names(ClusterState cluster) => [.. cluster.Destinations.Select(d => d.Name)];
}

public sealed class DnsRefreshWaitTests
{
    private static readonly TimeSpan _interval = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan _min = TimeSpan.FromSeconds(1);

    [Theory]
    [InlineData(5, 5)] // a TTL inside the bounds is followed
    [InlineData(0, 1)] // TTL 0 waits resolveMinInterval
    [InlineData(300, 30)] // a long TTL is capped at resolveInterval
    public void The_next_refresh_follows_the_ttl_within_the_bounds(int ttlSeconds, int expectedSeconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds),
            Tether.Upstream.Discovery.DnsRefresher.NextWait(TimeSpan.FromSeconds(ttlSeconds), _interval, _min));
    }

    [Fact]
    public void Without_a_ttl_resolveInterval_decides_and_it_wins_over_a_larger_minimum()
    {
        Assert.Equal(_interval, Tether.Upstream.Discovery.DnsRefresher.NextWait(null, _interval, _min));
        Assert.Equal(TimeSpan.FromMilliseconds(50),
            Tether.Upstream.Discovery.DnsRefresher.NextWait(TimeSpan.Zero, TimeSpan.FromMilliseconds(50), _min));
    }
}
