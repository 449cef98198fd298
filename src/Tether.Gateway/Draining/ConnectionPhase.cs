using System.Runtime.CompilerServices;
using Tether.Gateway.Listeners;

namespace Tether.Gateway.Draining;

/// <summary>
/// A fixed pseudo-random number in [0, 1) per client connection, derived from the connection object itself:
/// no state, no allocation, and connections opened in the same tick still differ. Used to spread lifetime
/// jitter and recycling over time.
/// </summary>
internal static class ConnectionPhase
{
    private const double TwoToThe32 = 4294967296.0;

    /// <summary>Different <paramref name="salt"/>s give independent phases for the same connection.</summary>
    public static double Of(DownstreamConnection connection, int salt) =>
        (uint)HashCode.Combine(connection.StartTimestamp, RuntimeHelpers.GetHashCode(connection), salt) / TwoToThe32;
}
