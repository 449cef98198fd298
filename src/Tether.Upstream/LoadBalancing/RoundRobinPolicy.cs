using Tether.Configuration;
using Tether.Upstream.Destinations;

namespace Tether.Upstream.LoadBalancing;

internal sealed class RoundRobinPolicy : ILoadBalancingPolicy
{
    private uint _next;

    public string Name => LoadBalancingPolicyNames.RoundRobin;

    public DestinationState Pick(IReadOnlyList<DestinationState> destinations)
    {
        var n = Interlocked.Increment(ref _next) - 1;
        return destinations[(int)(n % (uint)destinations.Count)];
    }
}
