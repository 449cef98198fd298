namespace Tether.Upstream;

/// <summary>Where in the exchange with a backend something went wrong (YARP's ForwarderError, by phase).</summary>
public enum UpstreamPhase
{
    /// <summary>Waiting for a free connection at the destination's cap.</summary>
    Queue,
    Connect,

    /// <summary>The TLS handshake with an https:// destination (verification included).</summary>
    Tls,
    SendRequest,
    SendBody,
    ReadHeaders,
    ReadBody,
    Tunnel,
}

/// <summary>What went wrong. The gateway maps each to a status code in one place.</summary>
public enum UpstreamErrorKind
{
    /// <summary>Connection refused, host unreachable, DNS failure.</summary>
    Refused,

    /// <summary>The backend reset the connection, or another socket error.</summary>
    Reset,

    /// <summary>The backend closed the connection (EOF) before the exchange was complete.</summary>
    Closed,

    /// <summary>connectTimeout or responseTimeout elapsed.</summary>
    Timeout,

    /// <summary>The backend's TLS certificate failed verification (expired, name mismatch, unknown issuer).</summary>
    BadCertificate,

    /// <summary>The response broke HTTP/1.1: bad status line, bad header, ambiguous or broken framing, too large.</summary>
    InvalidResponse,

    /// <summary>No connection available: at maxConnectionsPerDestination and the queue is full or timed out.</summary>
    NoCapacity,

    /// <summary>The client went away; nothing to answer.</summary>
    ClientAborted,
}

/// <summary>A failed exchange with a backend, typed by phase and kind.</summary>
public sealed class UpstreamException(UpstreamPhase phase, UpstreamErrorKind kind, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public UpstreamPhase Phase { get; } = phase;

    public UpstreamErrorKind Kind { get; } = kind;

    /// <summary>Whether any byte of a response had arrived when it failed (if not, a safe retry is possible).</summary>
    public bool ResponseBytesReceived { get; init; }

    /// <summary>A <see cref="UpstreamErrorKind.Timeout"/> of readIdleTimeout: the backend went silent (a dead peer,
    /// a dropped flow), which a retry on another destination may outrun; responseTimeout's expiry is not retried.</summary>
    public bool ReadIdle { get; init; }
}
