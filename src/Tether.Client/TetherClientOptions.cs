using System.Net;
using Microsoft.Extensions.Logging;

namespace Tether.Client;

/// <summary>
/// The knobs of a <see cref="TetherHttpHandler"/>. Read once, when the handler is built: change them before.
/// Every limit applies per address (a host name that resolves to two addresses has two pools).
/// </summary>
public sealed class TetherClientOptions
{
    /// <summary>Idle connections kept per address; a connection returned above it is closed (httpx
    /// max_keepalive_connections, Node's maxFreeSockets, nginx keepalive N). 0 = no keep-alive. Default 64.</summary>
    public int MaxIdleConnectionsPerHost { get; set; } = 64;

    /// <summary>An idle connection older than this is closed (httpx keepalive_expiry, SocketsHttpHandler
    /// PooledConnectionIdleTimeout). Lowered per connection by the server's <c>Keep-Alive: timeout=N</c> (to N minus a
    /// margin) and by the idle timeout learned from the server's unannounced closes. Default 60 s.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Requests one connection carries before it is closed (the last one is sent with
    /// <c>Connection: close</c>; nginx keepalive_requests). 0 = unlimited. Default 1000.</summary>
    public int MaxRequestsPerConnection { get; set; } = 1000;

    /// <summary>A connection older than this is not reused (SocketsHttpHandler PooledConnectionLifetime, nginx
    /// keepalive_time). Null = unlimited. Default 1 h.</summary>
    public TimeSpan? MaxLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Open connections per address (idle, busy and connecting); more requests wait in a queue
    /// (SocketsHttpHandler MaxConnectionsPerServer, nginx max_conns). 0 = unlimited (the default).</summary>
    public int MaxConnectionsPerHost { get; set; }

    /// <summary>Requests that may wait for a connection at <see cref="MaxConnectionsPerHost"/>; one more fails at
    /// once (HAProxy maxqueue). Default 1000.</summary>
    public int MaxQueuePerHost { get; set; } = 1000;

    /// <summary>How long a request waits in that queue before it fails (HAProxy timeout queue). Default 5 s.</summary>
    public TimeSpan QueueTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>TCP connect plus TLS handshake (SocketsHttpHandler ConnectTimeout). Default 5 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long to wait for each read of the response (head or body). Infinite by default: HttpClient.Timeout
    /// and the caller's CancellationToken bound the whole exchange.</summary>
    public TimeSpan ResponseTimeout { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>Idle time before the first TCP keepalive probe (SO_KEEPALIVE, TCP_KEEPIDLE); null = no TCP keepalive
    /// (the default).</summary>
    public TimeSpan? TcpKeepAliveIdle { get; set; }

    /// <summary>Between TCP keepalive probes (TCP_KEEPINTVL). Default 10 s.</summary>
    public TimeSpan TcpKeepAliveInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Unanswered probes before the connection is dropped (TCP_KEEPCNT). Default 6.</summary>
    public int TcpKeepAliveProbes { get; set; } = 6;

    /// <summary>Learn a server's idle timeout from the idle connections it closes without having announced it, and give
    /// connections up before it. Default true.</summary>
    public bool LearnIdleTimeout { get; set; } = true;

    /// <summary>How often a host name is resolved again; new addresses are added, vanished ones drained (their requests
    /// finish, their idle connections close). Null = once. Default 30 s.</summary>
    public TimeSpan? DnsRefreshInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Host name to addresses; null = the operating system's resolver. A seam for service discovery and tests.</summary>
    public Func<string, CancellationToken, Task<IPAddress[]>>? ResolveHost { get; set; }

    /// <summary>Attempts per request across addresses, the first included, when a connect fails or a request provably did
    /// not reach the server. The free retry of a stale pooled connection does not count. Default 3.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>How often idle connections are checked (expired, or closed by the server) and drained addresses let go.
    /// Default 1 s.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The protocol spoken to servers: <see cref="TetherProtocol.Http1"/> (the default), <see cref="TetherProtocol.Http2"/>
    /// (h2 with prior knowledge on http://, ALPN h2 on https://; multiplexed connections) or
    /// <see cref="TetherProtocol.Auto"/> (https://: what the server picks by ALPN, remembered per address; http://:
    /// HTTP/1.1). A request's own <see cref="HttpRequestMessage.Version"/> is honoured where its
    /// <see cref="HttpRequestMessage.VersionPolicy"/> requires it: HTTP/1.x with RequestVersionExact always goes over
    /// HTTP/1.1; HTTP/2 with RequestVersionExact or RequestVersionOrHigher (what gRPC sends) needs h2, and fails with
    /// <see cref="HttpRequestError.VersionNegotiationError"/> where h2 is not on offer.
    /// </summary>
    public TetherProtocol Protocol { get; set; } = TetherProtocol.Http1;

    /// <summary>HTTP/2: streams one connection carries at once (below the server's own SETTINGS limit); more open another
    /// connection, up to <see cref="MaxConnectionsPerHost"/>, then wait. Default 100.</summary>
    public int MaxConcurrentStreams { get; set; } = 100;

    /// <summary>HTTP/2: while streams are open, a PING after this long without a frame from the server
    /// (SocketsHttpHandler KeepAlivePingDelay). Null = no PINGs. Default 30 s.</summary>
    public TimeSpan? PingInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>HTTP/2: a PING unanswered this long closes the connection and fails its streams
    /// (SocketsHttpHandler KeepAlivePingTimeout). Default 20 s.</summary>
    public TimeSpan PingTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>https: a PEM bundle of the CAs trusted instead of the system store; null = the system store.</summary>
    public string? TlsCaFile { get; set; }

    /// <summary>https: the name sent by SNI and verified; null = the request's host.</summary>
    public string? TlsServerName { get; set; }

    /// <summary>https: verify the server's certificate (chain, name, dates). Default true.</summary>
    public bool TlsVerifyCertificate { get; set; } = true;

    /// <summary>https: a PEM client certificate (with <see cref="TlsClientKeyFile"/>) for mutual TLS.</summary>
    public string? TlsClientCertificateFile { get; set; }

    /// <summary>https: the PEM key of <see cref="TlsClientCertificateFile"/>.</summary>
    public string? TlsClientKeyFile { get; set; }

    /// <summary>Logs pool events (addresses added or drained, learned idle timeouts, resolution failures). Optional.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>The clock (tests use a fake one). Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Every invalid option, each naming the option and the fix; empty when all are valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        void Positive(TimeSpan value, string name, bool infiniteAllowed = false)
        {
            if (value <= TimeSpan.Zero && !(infiniteAllowed && value == Timeout.InfiniteTimeSpan))
            {
                errors.Add($"{name}: must be above zero{(infiniteAllowed ? " or Timeout.InfiniteTimeSpan" : "")} (got {value})");
            }
        }

        void NotNegative(int value, string name)
        {
            if (value < 0)
            {
                errors.Add($"{name}: must be 0 or more (got {value})");
            }
        }

        NotNegative(MaxIdleConnectionsPerHost, nameof(MaxIdleConnectionsPerHost));
        NotNegative(MaxRequestsPerConnection, nameof(MaxRequestsPerConnection));
        NotNegative(MaxConnectionsPerHost, nameof(MaxConnectionsPerHost));
        NotNegative(MaxQueuePerHost, nameof(MaxQueuePerHost));
        Positive(IdleTimeout, nameof(IdleTimeout));
        Positive(QueueTimeout, nameof(QueueTimeout));
        Positive(ConnectTimeout, nameof(ConnectTimeout));
        Positive(ResponseTimeout, nameof(ResponseTimeout), infiniteAllowed: true);
        Positive(SweepInterval, nameof(SweepInterval));
        if (MaxLifetime is { } lifetime)
        {
            Positive(lifetime, nameof(MaxLifetime) + " (null for unlimited)");
        }

        if (DnsRefreshInterval is { } refresh)
        {
            Positive(refresh, nameof(DnsRefreshInterval) + " (null to resolve once)");
        }

        if (TcpKeepAliveIdle is { } idle && idle < TimeSpan.FromSeconds(1))
        {
            errors.Add($"{nameof(TcpKeepAliveIdle)}: must be at least 1 s, or null for no TCP keepalive (got {idle})");
        }

        if (TcpKeepAliveInterval < TimeSpan.FromSeconds(1))
        {
            errors.Add($"{nameof(TcpKeepAliveInterval)}: must be at least 1 s (got {TcpKeepAliveInterval})");
        }

        if (TcpKeepAliveProbes is < 1 or > 127)
        {
            errors.Add($"{nameof(TcpKeepAliveProbes)}: must be 1 to 127 (got {TcpKeepAliveProbes})");
        }

        if (!Enum.IsDefined(Protocol))
        {
            errors.Add($"{nameof(Protocol)}: must be Http1, Http2 or Auto (got {(int)Protocol})");
        }

        if (MaxConcurrentStreams < 1)
        {
            errors.Add($"{nameof(MaxConcurrentStreams)}: must be 1 or more; 100 is the usual server limit (got {MaxConcurrentStreams})");
        }

        if (PingInterval is { } ping)
        {
            Positive(ping, nameof(PingInterval) + " (null for no PINGs)");
        }

        Positive(PingTimeout, nameof(PingTimeout));
        if (MaxAttempts < 1)
        {
            errors.Add($"{nameof(MaxAttempts)}: must be 1 or more; 1 = no retry on another address (got {MaxAttempts})");
        }

        if ((TlsClientCertificateFile is null) != (TlsClientKeyFile is null))
        {
            errors.Add($"{nameof(TlsClientCertificateFile)} and {nameof(TlsClientKeyFile)}: set both for mutual TLS, or neither");
        }

        if (TimeProvider is null)
        {
            errors.Add($"{nameof(TimeProvider)}: must not be null (use TimeProvider.System)");
        }

        return errors;
    }

    internal TetherClientOptions Clone() => (TetherClientOptions)MemberwiseClone();
}

/// <summary>The protocol <see cref="TetherHttpHandler"/> speaks to servers (<see cref="TetherClientOptions.Protocol"/>).</summary>
public enum TetherProtocol
{
    /// <summary>HTTP/1.1 on Tether's keep-alive pool.</summary>
    Http1,

    /// <summary>HTTP/2: prior knowledge (h2c) on http://, ALPN h2 on https://.</summary>
    Http2,

    /// <summary>https://: ALPN offers h2 and http/1.1 and the server's choice is remembered per address; http://: HTTP/1.1.</summary>
    Auto,
}
