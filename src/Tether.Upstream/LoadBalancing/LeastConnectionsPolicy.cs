using Tether.Configuration;
using Tether.Upstream.Destinations;

namespace Tether.Upstream.LoadBalancing;

/// <summary>
/// Fewest in-flight requests per unit of weight wins (nginx least_conn, HAProxy leastconn). Ties are broken
/// at random in proportion to weight, so an idle cluster spreads sequential requests by weight instead of
/// sending every one to the first destination.
/// </summary>
internal sealed class LeastConnectionsPolicy : ILoadBalancingPolicy
{
    public string Name => LoadBalancingPolicyNames.LeastConnections;

    public int Rank(DestinationSet set, in PickContext context, Span<int> ranked)
    {
        var items = set.Items;
        var now = context.Timestamp;
        var count = 0;
        while (count < ranked.Length)
        {
            var best = -1;
            var bestLoad = 0.0;
            var tiedWeight = 0.0;
            for (var i = 0; i < items.Length; i++)
            {
                var d = items[i];
                if (!Candidates.IsAvailable(d, now) || Candidates.Contains(ranked, count, i))
                {
                    continue;
                }

                var weight = Candidates.Weight(d, now);
                var load = d.InFlight / weight;
                if (best < 0 || load < bestLoad)
                {
                    best = i;
                    bestLoad = load;
                    tiedWeight = weight;
                }
                else if (load == bestLoad)
                {
                    // Weighted reservoir sampling: each tied destination ends up chosen with probability weight/total.
                    tiedWeight += weight;
                    if (Random.Shared.NextDouble() * tiedWeight < weight)
                    {
                        best = i;
                    }
                }
            }

            if (best < 0)
            {
                break;
            }

            ranked[count++] = best;
        }

        return count;
    }
}
