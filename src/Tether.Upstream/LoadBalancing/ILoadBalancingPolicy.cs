using Tether.Upstream.Destinations;

namespace Tether.Upstream.LoadBalancing;

/// <summary>Chooses the destination for a request. Implementations are thread-safe and allocation-free.</summary>
public interface ILoadBalancingPolicy
{
    string Name { get; }

    DestinationState Pick(IReadOnlyList<DestinationState> destinations);
}
