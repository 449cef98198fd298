using Tether.Configuration;
using Tether.Upstream.Destinations;

namespace Tether.Upstream.LoadBalancing;

/// <summary>Each position drawn at random in proportion to weight (nginx random, HAProxy balance random).</summary>
internal sealed class RandomPolicy : ILoadBalancingPolicy
{
    public string Name => LoadBalancingPolicyNames.Random;

    public int Rank(DestinationSet set, in PickContext context, Span<int> ranked) => RankByWeight(set, context.Timestamp, ranked);

    /// <summary>Every position a weighted draw among those not yet ranked.</summary>
    public static int RankByWeight(DestinationSet set, long now, Span<int> ranked)
    {
        var count = 0;
        while (count < ranked.Length)
        {
            var next = Candidates.WeightedDraw(set.Items, now, ranked, count);
            if (next < 0)
            {
                break;
            }

            ranked[count++] = next;
        }

        return count;
    }
}
