using Tether.Configuration;
using Tether.Upstream.Destinations;

namespace Tether.Upstream.LoadBalancing;

/// <summary>
/// Two destinations drawn at random (by weight); the less loaded goes first, the other second (YARP
/// PowerOfTwoChoices, Envoy LEAST_REQUEST). Cheaper than a full scan and avoids the herd that a stale
/// least-connections view can send to one destination.
/// </summary>
internal sealed class PowerOfTwoChoicesPolicy : ILoadBalancingPolicy
{
    public string Name => LoadBalancingPolicyNames.PowerOfTwoChoices;

    public int Rank(DestinationSet set, in PickContext context, Span<int> ranked)
    {
        if (ranked.IsEmpty)
        {
            return 0;
        }

        var items = set.Items;
        var now = context.Timestamp;
        var first = Candidates.WeightedDraw(items, now, ranked, 0);
        if (first < 0)
        {
            return 0;
        }

        ranked[0] = first;
        var second = ranked.Length > 1 ? Candidates.WeightedDraw(items, now, ranked, 1) : -1;
        if (second < 0)
        {
            return 1;
        }

        if (Candidates.Load(items[second], now) < Candidates.Load(items[first], now))
        {
            (first, second) = (second, first);
        }

        ranked[0] = first;
        ranked[1] = second;
        return Candidates.FillInRingOrder(items, now, ranked, 2, Random.Shared.Next(items.Length));
    }
}
