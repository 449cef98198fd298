namespace Tether.Gateway.Protection;

/// <summary>Why Tether closed a client connection it did not want (the reasons /status and /metrics list).</summary>
public enum ProtectionCloseReason
{
    /// <summary>The request head did not arrive within requestHeadersTimeout (Slowloris).</summary>
    SlowHeaders,

    /// <summary>The request body came slower than minRequestBodyRate (slow POST / R.U.D.Y.).</summary>
    SlowBody,

    /// <summary>The client read the response slower than minResponseRate (slow read).</summary>
    SlowRead,

    /// <summary>The TLS handshake failed or did not finish within tlsHandshakeTimeout.</summary>
    TlsHandshake,

    /// <summary>The client's address already had maxConnectionsPerClient connections open.</summary>
    PerClientLimit,

    /// <summary>maxConnections connections were already open.</summary>
    GlobalLimit,

    /// <summary>A PROXY header from a peer outside trustedNetworks.</summary>
    ProxyProtocolUntrusted,

    /// <summary>A malformed or oversized PROXY header.</summary>
    ProxyProtocolInvalid,

    /// <summary>No PROXY header on a listener that requires one (or none within its timeout).</summary>
    ProxyProtocolMissing,

    /// <summary>An HTTP/2 client over downstream.http2.maxControlFramesPerSecond, or with a header block of too many CONTINUATION frames.</summary>
    Http2Flood,
}

/// <summary>Client connections closed by Tether's protections, by reason. Lock-free; read by the admin endpoint.</summary>
public sealed class ConnectionCloseCounters
{
    private readonly long[] _counts = new long[Enum.GetValues<ProtectionCloseReason>().Length];

    public long this[ProtectionCloseReason reason] => Volatile.Read(ref _counts[(int)reason]);

    /// <summary>All reasons, in enum order (what the admin writers iterate).</summary>
    public static IReadOnlyList<ProtectionCloseReason> Reasons { get; } = Enum.GetValues<ProtectionCloseReason>();

    internal void Increment(ProtectionCloseReason reason) => Interlocked.Increment(ref _counts[(int)reason]);
}
