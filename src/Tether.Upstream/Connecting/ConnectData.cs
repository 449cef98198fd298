namespace Tether.Upstream.Connecting;

/// <summary>
/// What one request brings to the opening of a backend connection, passed in explicitly through the pool:
/// today the PROXY protocol header naming its client (empty for none). A destination that sends one keeps no
/// idle connections, so a connection that names one client never carries another client's request.
/// </summary>
public readonly record struct ConnectData(ReadOnlyMemory<byte> ProxyHeader);

/// <summary>What a TLS connection offers by ALPN.</summary>
public enum AlpnOffer
{
    /// <summary>"http/1.1" (the backend may also choose nothing).</summary>
    Http1,

    /// <summary>"h2", which the backend must choose.</summary>
    Http2,

    /// <summary>"h2" then "http/1.1": the backend picks (protocol "auto").</summary>
    Http2OrHttp1,
}
