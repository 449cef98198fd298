using Tether.Upstream.Destinations;

namespace Tether.Upstream.LoadBalancing;

/// <summary>
/// Orders a cluster's available destinations by preference (Pingora's selection returns candidates in order),
/// so a retry takes the next one without a second pick. Implementations are thread-safe and allocation-free.
/// </summary>
public interface ILoadBalancingPolicy
{
    string Name { get; }

    /// <summary>
    /// Writes indexes into <see cref="DestinationSet.Items"/> of available destinations, most preferred first,
    /// at most <paramref name="ranked"/>.Length of them; returns how many were written (0: none available).
    /// </summary>
    int Rank(DestinationSet set, in PickContext context, Span<int> ranked);
}

/// <summary>What a policy may look at besides the destinations: the time (health, slow start) and, for
/// consistentHash, the hash of the request's key.</summary>
public readonly record struct PickContext(long Timestamp, ulong Hash, bool HasHash)
{
    public static PickContext At(long timestamp) => new(timestamp, 0, false);
}
