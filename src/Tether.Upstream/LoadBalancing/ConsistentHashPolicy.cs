using Tether.Configuration;
using Tether.Upstream.Destinations;

namespace Tether.Upstream.LoadBalancing;

/// <summary>
/// Stickiness: the request's key (client IP, a header or a cookie, hashed by the gateway) picks a point on a
/// ring with virtual nodes; candidates are the distinct available destinations met going clockwise from there,
/// so when the first is down a key moves to the same second choice every time. A request without the key
/// gets a weighted random order.
/// </summary>
internal sealed class ConsistentHashPolicy : ILoadBalancingPolicy
{
    public string Name => LoadBalancingPolicyNames.ConsistentHash;

    public int Rank(DestinationSet set, in PickContext context, Span<int> ranked)
    {
        if (!context.HasHash)
        {
            return RandomPolicy.RankByWeight(set, context.Timestamp, ranked);
        }

        var items = set.Items;
        var now = context.Timestamp;
        var available = 0;
        foreach (var d in items)
        {
            if (Candidates.IsAvailable(d, now))
            {
                available++;
            }
        }

        var wanted = Math.Min(available, ranked.Length);
        var ring = set.GetOrAddPolicyData(static items => HashRing.Build(items));
        var count = 0;
        var start = ring.Locate(context.Hash);
        for (var step = 0; step < ring.Points.Length && count < wanted; step++)
        {
            var owner = ring.Owners[(start + step) % ring.Points.Length];
            if (Candidates.IsAvailable(items[owner], now) && !Candidates.Contains(ranked, count, owner))
            {
                ranked[count++] = owner;
            }
        }

        return count;
    }
}
