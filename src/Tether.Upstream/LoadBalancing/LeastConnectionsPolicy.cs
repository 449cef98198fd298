using Tether.Configuration;
using Tether.Upstream.Destinations;

namespace Tether.Upstream.LoadBalancing;

/// <summary>
/// Fewest in-flight requests wins; ties are broken at random so that an idle cluster does not send every
/// first request to the first destination (nginx least_conn, HAProxy leastconn).
/// </summary>
internal sealed class LeastConnectionsPolicy : ILoadBalancingPolicy
{
    public string Name => LoadBalancingPolicyNames.LeastConnections;

    public DestinationState Pick(IReadOnlyList<DestinationState> destinations)
    {
        var best = destinations[0];
        var bestLoad = best.InFlight;
        var ties = 1;
        for (var i = 1; i < destinations.Count; i++)
        {
            var d = destinations[i];
            var load = d.InFlight;
            if (load < bestLoad)
            {
                best = d;
                bestLoad = load;
                ties = 1;
            }
            else if (load == bestLoad && Random.Shared.Next(++ties) == 0)
            {
                // Reservoir sampling: each of the tied destinations ends up chosen with probability 1/ties.
                best = d;
            }
        }

        return best;
    }
}
