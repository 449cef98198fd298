namespace Tether.Doctor.Endpoint;

/// <summary>Everything the endpoint probes measured, before it is judged.</summary>
public sealed record EndpointFindings(
    TimingResult Timing,
    KeepAliveResult KeepAlive,
    Http2Result Http2,
    IdleTimeoutEstimate Idle);
