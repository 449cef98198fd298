namespace Tether.Upstream.Pooling;

/// <summary>Why a pooled connection was closed. Each has its own counter in /status and /metrics.</summary>
public enum ConnectionCloseReason
{
    /// <summary>Idle longer than the pool's idle timeout, or than the backend's advertised Keep-Alive timeout minus a margin.</summary>
    IdleTimeout,

    /// <summary>Older than pool.maxLifetime.</summary>
    MaxLifetime,

    /// <summary>Served pool.maxRequestsPerConnection requests, or the backend's Keep-Alive max ran out.</summary>
    MaxRequests,

    /// <summary>The backend said Connection: close, or the response was close-delimited.</summary>
    ServerClose,

    /// <summary>Found closed by the backend (FIN or RST) while idle, before reuse.</summary>
    PeerClosed,

    /// <summary>Found readable while idle: the backend sent bytes nobody asked for.</summary>
    UnexpectedData,

    /// <summary>Returned when the idle cap (pool.maxIdlePerDestination) was already reached.</summary>
    PoolFull,

    /// <summary>A request on it failed (I/O error, timeout, client abort mid-exchange).</summary>
    Error,

    /// <summary>The backend's response was malformed (bad framing); never reused.</summary>
    InvalidResponse,

    /// <summary>Upgraded to a tunnel (101 Switching Protocols) and closed when the tunnel ended.</summary>
    Upgraded,

    /// <summary>The pool was shut down or its destination removed.</summary>
    Shutdown,
}
