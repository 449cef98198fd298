using Tether.Configuration;
using Tether.Gateway.Reload;
using Tether.Upstream.Destinations;
using Tether.Testing;

namespace Tether.Gateway.Tests.Reload;

public sealed class RetiredClustersTests
{
    private static readonly TimeSpan _grace = TimeSpan.FromSeconds(2);
    private readonly ManualTimeProvider _time = new();

    [Fact]
    public void A_retired_cluster_keeps_taking_requests_for_the_grace_then_drains_and_closes()
    {
        using var cluster = Cluster();
        var retired = new RetiredClusters(_time, _grace);
        retired.Add(cluster);

        _time.Advance(_grace - TimeSpan.FromTicks(1));
        retired.Sweep();
        Assert.All(cluster.Destinations, d => Assert.False(d.IsDraining));
        Assert.True(cluster.Destinations[0].TryEnter());
        cluster.Destinations[0].OnRequestEnded();

        _time.Advance(TimeSpan.FromTicks(1));
        retired.Sweep();
        Assert.All(cluster.Destinations, d => Assert.True(d.IsDraining));
        Assert.False(cluster.Destinations[0].TryEnter());
        Assert.Equal(0, retired.Count);
    }

    [Fact]
    public void A_request_in_flight_keeps_its_cluster_open_until_it_ends()
    {
        using var cluster = Cluster();
        var retired = new RetiredClusters(_time, _grace);
        Assert.True(cluster.Destinations[1].TryEnter());
        retired.Add(cluster);

        _time.Advance(_grace);
        retired.Sweep();
        Assert.Equal(1, retired.Count);
        _time.Advance(TimeSpan.FromSeconds(30));
        retired.Sweep();
        Assert.Equal(1, retired.Count);

        cluster.Destinations[1].OnRequestEnded();
        retired.Sweep();
        Assert.Equal(0, retired.Count);
    }

    private ClusterState Cluster()
    {
        Assert.True(AddressParser.TryParseDestination("127.0.0.1:9001", 1, out var a, out _));
        Assert.True(AddressParser.TryParseDestination("127.0.0.1:9002", 1, out var b, out _));
        return new ClusterState("app", new ClusterConfig { Destinations = [a, b] }, _time);
    }
}
