using System.Net;
using Tether.Upstream.Discovery;

namespace Tether.FunctionalTests.LoadBalancing;

public sealed class DnsDiscoveryTests
{
    [Fact]
    public async Task Dns_changes_add_and_drain_destinations_without_failed_requests()
    {
        // Two origins on one port at two loopback addresses, as a headless service's pods would be.
        await using var first = await CountingOrigin.StartAsync("127.0.0.1");
        await using var second = await CountingOrigin.StartAsync("127.0.0.2", first.Port);
        var resolver = new SwitchableResolver("127.0.0.1");
        await using var gateway = await BalancedGateway.StartAsync($$"""
            { "destinations": ["backend.test:{{first.Port}}"], "resolveInterval": "50ms" }
            """, resolver);

        using var stop = new CancellationTokenSource();
        var failures = 0;
        var sent = 0;
        var load = Enumerable.Range(0, 4).Select(async _ =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var response = await gateway.Client.GetAsync("/");
                Interlocked.Increment(ref sent);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }).ToArray();

        await BalancedGateway.WaitUntilAsync(() => first.Requests > 20);
        resolver.Set("127.0.0.1", "127.0.0.2");
        await BalancedGateway.WaitUntilAsync(() => second.Requests > 20);
        resolver.Set("127.0.0.2");
        await BalancedGateway.WaitUntilAsync(() => gateway.Cluster.Destinations.Count == 1 && gateway.Cluster.Draining.Count == 0);
        var firstAfterDrain = first.Requests;
        var secondBefore = second.Requests;
        await BalancedGateway.WaitUntilAsync(() => second.Requests > secondBefore + 50);
        stop.Cancel();
        await Task.WhenAll(load);

        Assert.Equal(0, failures);
        Assert.True(sent > 100);
        Assert.Equal(firstAfterDrain, first.Requests); // drained: nothing new after the drain finished
        Assert.Equal("127.0.0.2:" + first.Port, gateway.Cluster.Destinations[0].Name);
    }

    /// <summary>At start a host-name destination is the name until the first answer replaces it by its addresses: that
    /// is no DNS change, so no client connection is recycled for it (it used to close 100 % of them over 30 s).</summary>
    [Fact]
    public async Task The_first_answer_for_a_name_recycles_nothing_and_a_later_change_does()
    {
        await using var origin = await CountingOrigin.StartAsync("127.0.0.1");
        var resolver = new SwitchableResolver("127.0.0.1");
        await using var gateway = await BalancedGateway.StartAsync($$"""
            { "destinations": ["backend.test:{{origin.Port}}"], "resolveInterval": "50ms" }
            """, resolver);

        await BalancedGateway.WaitUntilAsync(() => gateway.Cluster.Destinations is [{ ResolvedFrom: "backend.test" }]);
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/")).StatusCode);
        Assert.Null(gateway.Gateway.Recycler.Current);

        resolver.Set("127.0.0.1", "127.0.0.2");
        await BalancedGateway.WaitUntilAsync(() => gateway.Cluster.Destinations.Count == 2);
        await BalancedGateway.WaitUntilAsync(() => gateway.Gateway.Recycler.Current is not null);
    }

    private sealed class SwitchableResolver(params string[] addresses) : IHostResolver
    {
        private volatile IPAddress[] _addresses = [.. addresses.Select(IPAddress.Parse)];

        public void Set(params string[] addresses) => _addresses = [.. addresses.Select(IPAddress.Parse)];

        public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) => Task.FromResult(_addresses);
    }
}
