using Tether.Configuration;
using Tether.Gateway.Reload;

namespace Tether.Gateway.Tests.Reload;

public sealed class ClusterConfigsTests
{
    private static readonly DestinationConfig _a = Destination("127.0.0.1:9001");
    private static readonly DestinationConfig _b = Destination("127.0.0.1:9002");
    private static readonly DestinationConfig _c = Destination("127.0.0.1:9003");

    [Fact]
    public void Equal_configs_built_separately_compare_equal()
    {
        var first = new ClusterConfig { Destinations = [_a, _b], Pool = new PoolConfig { MaxIdlePerDestination = 8 } };
        var second = new ClusterConfig { Destinations = new List<DestinationConfig> { Destination("127.0.0.1:9001"), Destination("127.0.0.1:9002") }, Pool = new PoolConfig { MaxIdlePerDestination = 8 } };

        Assert.True(ClusterConfigs.Equal(first, second));
    }

    [Fact]
    public void Any_difference_in_destinations_or_settings_makes_them_differ()
    {
        var baseline = new ClusterConfig { Destinations = [_a, _b] };

        Assert.False(ClusterConfigs.Equal(baseline, baseline with { Destinations = [_a] }));
        Assert.False(ClusterConfigs.Equal(baseline, baseline with { Destinations = [_b, _a] }));
        Assert.False(ClusterConfigs.Equal(baseline, baseline with { Destinations = [_a, _b with { Weight = 2 }] }));
        Assert.False(ClusterConfigs.Equal(baseline, baseline with { Pool = new PoolConfig { IdleTimeout = TimeSpan.FromSeconds(5) } }));
        Assert.False(ClusterConfigs.Equal(baseline, baseline with { LoadBalancing = LoadBalancingPolicyNames.RoundRobin }));
    }

    [Fact]
    public void The_changed_fraction_is_added_and_removed_over_the_larger_set()
    {
        Assert.Equal(1.0 / 3, ClusterConfigs.ChangedFraction([_a, _b], [_a, _b, _c]), 6);
        Assert.Equal(1.0 / 3, ClusterConfigs.ChangedFraction([_a, _b, _c], [_a, _b]), 6);
        Assert.Equal(1.0, ClusterConfigs.ChangedFraction([_a], [_b]), 6);
        Assert.Equal(0.0, ClusterConfigs.ChangedFraction([_a, _b], [_b, _a]), 6);
    }

    private static DestinationConfig Destination(string address)
    {
        Assert.True(AddressParser.TryParseDestination(address, 1, out var destination, out var error), error);
        return destination;
    }
}
