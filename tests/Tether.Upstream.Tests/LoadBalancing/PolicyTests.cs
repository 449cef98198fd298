using Tether.Configuration;
using Tether.Upstream.LoadBalancing;

namespace Tether.Upstream.Tests.LoadBalancing;

public sealed class PolicyTests
{
    public static TheoryData<string> Policies() => [.. LoadBalancingPolicyNames.All];

    [Theory]
    [MemberData(nameof(Policies))]
    public void Ranks_every_available_destination_once_and_skips_ejected_ones(string policy)
    {
        using var cluster = TestClusters.Create(TestClusters.Config(policy, 1, 2, 1, 3));
        TestClusters.Eject(cluster, cluster.Destinations[1]);
        Span<int> ranked = stackalloc int[4];
        for (var i = 0; i < 200; i++)
        {
            var n = cluster.Rank(cluster.Set, (ulong)i * 7919, hasHash: true, ranked);
            Assert.Equal(3, n);
            var seen = ranked[..n].ToArray();
            Assert.Equal([0, 2, 3], seen.Order());
        }
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Ranks_nothing_when_every_destination_is_ejected(string policy)
    {
        using var cluster = TestClusters.Create(TestClusters.Config(policy, 1, 1));
        TestClusters.Eject(cluster, cluster.Destinations[0]);
        TestClusters.Eject(cluster, cluster.Destinations[1]);
        Span<int> ranked = stackalloc int[2];
        Assert.Equal(0, cluster.Rank(cluster.Set, 1, hasHash: true, ranked));
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Ranking_does_not_allocate(string policy)
    {
        using var cluster = TestClusters.Create(TestClusters.Config(policy, 1, 2, 3));
        var set = cluster.Set;
        Span<int> ranked = stackalloc int[3];
        cluster.Rank(set, 42, hasHash: true, ranked); // builds the consistent-hash ring once
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            cluster.Rank(set, (ulong)i, hasHash: true, ranked);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Least_connections_prefers_the_destination_with_fewest_requests_in_flight()
    {
        using var cluster = TestClusters.Create(TestClusters.Config(LoadBalancingPolicyNames.LeastConnections, 1, 1, 1));
        cluster.Destinations[0].OnRequestStarted();
        cluster.Destinations[0].OnRequestStarted();
        cluster.Destinations[2].OnRequestStarted();
        Span<int> ranked = stackalloc int[3];
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(3, cluster.Rank(cluster.Set, 0, false, ranked));
            Assert.Equal([1, 2, 0], ranked.ToArray());
        }
    }

    [Fact]
    public void Least_connections_compares_in_flight_per_unit_of_weight()
    {
        // 3 in flight on weight 4 (0.75) beats 1 in flight on weight 1 (1.0).
        using var cluster = TestClusters.Create(TestClusters.Config(LoadBalancingPolicyNames.LeastConnections, 4, 1));
        for (var i = 0; i < 3; i++)
        {
            cluster.Destinations[0].OnRequestStarted();
        }

        cluster.Destinations[1].OnRequestStarted();
        Assert.Equal([50, 0], TestClusters.FirstChoices(cluster, 50));
    }

    [Theory]
    [InlineData(LoadBalancingPolicyNames.LeastConnections, 0.03)]
    [InlineData(LoadBalancingPolicyNames.PowerOfTwoChoices, 0.03)]
    [InlineData(LoadBalancingPolicyNames.Random, 0.03)]
    [InlineData(LoadBalancingPolicyNames.RoundRobin, 0.005)]
    [InlineData(LoadBalancingPolicyNames.ConsistentHash, 0.04)]
    public void Shares_follow_weights_within_tolerance(string policy, double tolerance)
    {
        using var cluster = TestClusters.Create(TestClusters.Config(policy, 3, 1));
        const int requests = 20_000;
        var counts = TestClusters.FirstChoices(cluster, requests, i => StableHash.Mix((ulong)i));
        Assert.InRange((double)counts[0] / requests, 0.75 - tolerance, 0.75 + tolerance);
    }

    [Fact]
    public void Round_robin_with_equal_weights_is_a_strict_rotation()
    {
        using var cluster = TestClusters.Create(TestClusters.Config(LoadBalancingPolicyNames.RoundRobin, 1, 1, 1));
        Span<int> ranked = stackalloc int[3];
        var firsts = new List<int>();
        for (var i = 0; i < 9; i++)
        {
            cluster.Rank(cluster.Set, 0, false, ranked);
            firsts.Add(ranked[0]);
            Assert.Equal((ranked[0] + 1) % 3, ranked[1]); // the rest follow in ring order
        }

        Assert.Equal([0, 1, 2, 0, 1, 2, 0, 1, 2], firsts);
    }

    [Fact]
    public void Power_of_two_choices_puts_the_less_loaded_of_its_two_draws_first()
    {
        using var cluster = TestClusters.Create(TestClusters.Config(LoadBalancingPolicyNames.PowerOfTwoChoices, 1, 1));
        cluster.Destinations[0].OnRequestStarted();
        Assert.Equal([0, 400], TestClusters.FirstChoices(cluster, 400));
    }

    [Fact]
    public void Consistent_hash_sends_a_key_to_the_same_destination_and_the_same_second_choice()
    {
        using var cluster = TestClusters.Create(TestClusters.Config(LoadBalancingPolicyNames.ConsistentHash, 1, 1, 1, 1));
        Span<int> first = stackalloc int[4];
        Span<int> again = stackalloc int[4];
        for (ulong key = 0; key < 100; key++)
        {
            var hash = StableHash.Mix(key);
            Assert.Equal(4, cluster.Rank(cluster.Set, hash, true, first));
            Assert.Equal(4, cluster.Rank(cluster.Set, hash, true, again));
            Assert.Equal(first.ToArray(), again.ToArray());
        }
    }

    [Fact]
    public void Consistent_hash_moves_only_the_keys_of_a_destination_that_goes_away()
    {
        using var cluster = TestClusters.Create(TestClusters.Config(LoadBalancingPolicyNames.ConsistentHash, 1, 1, 1, 1));
        const int keys = 4000;
        var before = new int[keys];
        var after = new int[keys];
        Span<int> ranked = stackalloc int[4];
        for (var k = 0; k < keys; k++)
        {
            cluster.Rank(cluster.Set, StableHash.Mix((ulong)k), true, ranked);
            before[k] = ranked[0];
        }

        TestClusters.Eject(cluster, cluster.Destinations[2]);
        var moved = 0;
        for (var k = 0; k < keys; k++)
        {
            cluster.Rank(cluster.Set, StableHash.Mix((ulong)k), true, ranked);
            after[k] = ranked[0];
            if (before[k] != 2)
            {
                Assert.Equal(before[k], after[k]); // keys of the others stay put
            }
            else
            {
                moved++;
            }
        }

        Assert.InRange(moved, keys / 4 * 0.8, keys / 4 * 1.2);
    }
}
