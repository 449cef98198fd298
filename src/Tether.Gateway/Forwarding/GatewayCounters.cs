using Tether.Upstream;

namespace Tether.Gateway.Forwarding;

/// <summary>Gateway-wide counters of upstream errors by phase and kind, and client aborts.</summary>
public sealed class GatewayCounters
{
    private static readonly int s_phases = Enum.GetValues<UpstreamPhase>().Length;
    private static readonly int s_kinds = Enum.GetValues<UpstreamErrorKind>().Length;
    private readonly long[] _errors = new long[s_phases * s_kinds];
    private long _clientAborted;
    private long _notFound;
    private long _rejected;

    public long ClientAbortedCount => Volatile.Read(ref _clientAborted);

    public long NotFound => Volatile.Read(ref _notFound);

    /// <summary>Requests refused by <see cref="RequestValidator"/> before any backend was involved.</summary>
    public long Rejected => Volatile.Read(ref _rejected);

    public long Errors(UpstreamPhase phase, UpstreamErrorKind kind) => Volatile.Read(ref _errors[((int)phase * s_kinds) + (int)kind]);

    internal void OnUpstreamError(UpstreamPhase phase, UpstreamErrorKind kind) => Interlocked.Increment(ref _errors[((int)phase * s_kinds) + (int)kind]);

    internal void OnClientAborted() => Interlocked.Increment(ref _clientAborted);

    internal void OnNotFound() => Interlocked.Increment(ref _notFound);

    internal void OnRejected() => Interlocked.Increment(ref _rejected);
}
