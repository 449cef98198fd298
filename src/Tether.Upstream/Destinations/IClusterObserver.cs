namespace Tether.Upstream.Destinations;

/// <summary>
/// What a cluster reports about its destinations as it happens. Tether.Upstream has no logging of its own;
/// the gateway turns these into log lines.
/// </summary>
public interface IClusterObserver
{
    /// <summary>Passive health took a destination out after consecutive failures.</summary>
    void Ejected(string cluster, string destination, int failures, TimeSpan duration, int ejections);

    /// <summary>Active probes changed a destination's state.</summary>
    void ProbeStateChanged(string cluster, string destination, bool healthy, string detail);

    /// <summary>DNS re-resolution added or drained destinations of one host name. <paramref name="firstAnswer"/>: the
    /// first answer for the name, which replaces the name itself by its addresses (nothing changed for clients).</summary>
    void DestinationsChanged(string cluster, string host, int added, int drained, int total, bool firstAnswer);

    /// <summary>A host name did not resolve; the previous addresses stay in use.</summary>
    void ResolveFailed(string cluster, string host, string error);

    /// <summary>A destination's pool learned (or lowered) the idle timeout it applies, from the backend's closes
    /// (pool.learnIdleTimeout); <paramref name="smallestClose"/> is the smallest idle age found closed.</summary>
    void IdleTimeoutLearned(string cluster, string destination, TimeSpan learned, TimeSpan? smallestClose);
}

internal sealed class NullClusterObserver : IClusterObserver
{
    public static readonly NullClusterObserver Instance = new();

    public void Ejected(string cluster, string destination, int failures, TimeSpan duration, int ejections)
    {
    }

    public void ProbeStateChanged(string cluster, string destination, bool healthy, string detail)
    {
    }

    public void DestinationsChanged(string cluster, string host, int added, int drained, int total, bool firstAnswer)
    {
    }

    public void ResolveFailed(string cluster, string host, string error)
    {
    }

    public void IdleTimeoutLearned(string cluster, string destination, TimeSpan learned, TimeSpan? smallestClose)
    {
    }
}
