using Tether.Doctor.Http;

namespace Tether.Doctor.Endpoint;

/// <summary>What `tether doctor URL` was asked to do.</summary>
public sealed record EndpointOptions(ProbeTarget Target)
{
    /// <summary>Wall time the idle-timeout measurement may take.</summary>
    public TimeSpan Budget { get; init; } = TimeSpan.FromSeconds(60);

    public bool Insecure { get; init; }

    /// <summary>Cold and warm requests each; the report shows medians.</summary>
    public int Tries { get; init; } = 5;

    /// <summary>Requests sent one after another on one socket to find a per-connection request cap.</summary>
    public int SequentialRequests { get; init; } = 20;

    public int ConcurrentRequests { get; init; } = 6;
}
