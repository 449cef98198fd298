namespace Tether.Configuration;

/// <summary>
/// The whole of what the user wrote (after defaults and TETHER__ environment overrides).
/// Immutable: a reload builds a new one and the runtime swaps its model whole.
/// </summary>
public sealed record TetherConfig
{
    public IReadOnlyList<ListenerConfig> Listeners { get; init; } = [new ListenerConfig()];

    public DownstreamConfig Downstream { get; init; } = new();

    public IReadOnlyList<RouteConfig> Routes { get; init; } = [];

    /// <summary>Clusters by name; names are case-sensitive and match <see cref="RouteConfig.Cluster"/>.</summary>
    public IReadOnlyDictionary<string, ClusterConfig> Clusters { get; init; } = new Dictionary<string, ClusterConfig>();

    public AdminConfig Admin { get; init; } = new();

    /// <summary>Idle timeouts of the hops around Tether that only the user knows (used by `check --probe`).</summary>
    public ChainConfig Chain { get; init; } = new();

    /// <summary>Graceful shutdown on SIGTERM/SIGINT or POST /drain.</summary>
    public DrainConfig Drain { get; init; } = new();

    /// <summary>Rebalancing long-lived client connections when a cluster's destinations change.</summary>
    public RecycleConfig Recycle { get; init; } = new();

    /// <summary>One line per request (nginx access_log; Caddy and Traefik JSON logs).</summary>
    public AccessLogConfig AccessLog { get; init; } = new();

    /// <summary>How destinations written as host names or srv:// are looked up (nginx resolver; HAProxy resolvers).</summary>
    public DnsConfig Dns { get; init; } = new();

    /// <summary>The etcd that clusters' destinationsFrom read.</summary>
    public EtcdConfig Etcd { get; init; } = new();

    /// <summary>Traces and OTLP export (OpenTelemetry).</summary>
    public TelemetryConfig Telemetry { get; init; } = new();
}

/// <summary>clusters.&lt;name&gt;.destinationsFrom: where backends register themselves.</summary>
public sealed record DestinationsFromConfig
{
    /// <summary>An etcd key prefix ("/tether/clusters/api/"): each key under it holds one destination
    /// ("10.0.0.5:8080" or { "address": …, "weight": … }); a key that goes (its lease expired) drains it.</summary>
    public string Etcd { get; init; } = "";
}

/// <summary>etcd: the etcd cluster destinationsFrom reads (the config itself may come from another, given by --config).</summary>
public sealed record EtcdConfig
{
    /// <summary>"127.0.0.1:2379"; several for a cluster of etcd members.</summary>
    public IReadOnlyList<string> Endpoints { get; init; } = [];

    /// <summary>The user of etcd's auth (with <see cref="Password"/>); null = no auth.</summary>
    public string? Username { get; init; }

    /// <summary>The password of <see cref="Username"/> (best given by TETHER__ETCD__PASSWORD, kept out of the file).</summary>
    public string? Password { get; init; }

    /// <summary>Present: speak TLS to etcd (https), verified against its caFile, presenting its client certificate.
    /// Null = cleartext.</summary>
    public EtcdTlsConfig? Tls { get; init; }

    /// <summary>Same endpoints, credentials and TLS files (records compare lists by reference).</summary>
    public bool SameAs(EtcdConfig other) =>
        other is not null && Endpoints.SequenceEqual(other.Endpoints, StringComparer.OrdinalIgnoreCase)
        && Username == other.Username && Password == other.Password && Tls == other.Tls;
}

/// <summary>etcd.tls: TLS to etcd (etcd's --cert-file, --trusted-ca-file, --client-cert-auth).</summary>
public sealed record EtcdTlsConfig
{
    /// <summary>PEM bundle of the CAs that sign etcd's certificates; null = the system store.</summary>
    public string? CaFile { get; init; }

    /// <summary>PEM client certificate (chain) for etcd's --client-cert-auth; needs <see cref="Key"/>.</summary>
    public string? Certificate { get; init; }

    /// <summary>PEM private key of <see cref="Certificate"/>.</summary>
    public string? Key { get; init; }
}

/// <summary>dns: the DNS servers asked for destinations' records (A/AAAA with their TTLs, SRV).</summary>
public sealed record DnsConfig
{
    /// <summary>"10.0.0.2" (port 53) or "127.0.0.1:5353". Empty = the nameservers of /etc/resolv.conf, and for
    /// A/AAAA names they do not answer, the system resolver (/etc/hosts).</summary>
    public IReadOnlyList<string> Servers { get; init; } = [];

    /// <summary>How long one query may take (each server is tried once more after it).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Same servers and timeout (records compare lists by reference).</summary>
    public bool SameAs(DnsConfig other) =>
        other is not null && Timeout == other.Timeout && Servers.SequenceEqual(other.Servers, StringComparer.OrdinalIgnoreCase);
}

public sealed record TelemetryConfig
{
    public TracingConfig Tracing { get; init; } = new();

    public OtlpConfig Otlp { get; init; } = new();
}

public sealed record TracingConfig
{
    /// <summary>The share of requests that get a trace (a server span and a client span per upstream attempt), 0 to 1;
    /// a client's sampled traceparent is followed whatever the ratio. 0 = tracing off: no span is made, the
    /// client's traceparent passes to the backend untouched.</summary>
    public double SampleRatio { get; init; }
}

public sealed record OtlpConfig
{
    /// <summary>The OTLP/HTTP (http/protobuf) base URL of a collector, such as "http://127.0.0.1:4318": traces go to
    /// its /v1/traces, metrics to its /v1/metrics. Null = no export.</summary>
    public string? Endpoint { get; init; }

    /// <summary>Headers sent with every export (an API key).</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>How often the metrics are exported.</summary>
    public TimeSpan ExportInterval { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>accessLog.format.</summary>
public enum AccessLogFormat
{
    /// <summary>"combined": nginx's combined format, plus the request time in seconds and the upstream address.</summary>
    Combined,

    /// <summary>"json": one JSON object a line.</summary>
    Json,
}

public sealed record AccessLogConfig
{
    /// <summary>The <see cref="Path"/> that turns the access log off.</summary>
    public const string Off = "off";

    /// <summary>The <see cref="Path"/> that writes to standard output.</summary>
    public const string Stdout = "stdout";

    /// <summary>"stdout", a file (appended to; reopened on SIGUSR1), or "off". "off" unless the embedded default
    /// config is running, which logs to "stdout".</summary>
    public string Path { get; init; } = Off;

    public AccessLogFormat Format { get; init; } = AccessLogFormat.Combined;

    /// <summary>Lines waiting to be written; past this, lines are dropped (and counted), never waited for.</summary>
    public int QueueSize { get; init; } = 16 * 1024;

    public bool IsOff => string.Equals(Path, Off, StringComparison.OrdinalIgnoreCase);

    public bool IsStdout => string.Equals(Path, Stdout, StringComparison.OrdinalIgnoreCase);
}

public sealed record DrainConfig
{
    /// <summary>Caddy shutdown_delay: time between readiness turning 503 and the listeners closing.</summary>
    public TimeSpan Delay { get; init; } = TimeSpan.Zero;

    /// <summary>nginx worker_shutdown_timeout, HAProxy hard-stop-after, Envoy drain_timeout: in-flight requests
    /// and tunnels get this long after the listeners close; what is left is then aborted.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);
}

public sealed record RecycleConfig
{
    /// <summary>HAProxy close-spread-time: when a cluster's destinations change, the client connections chosen
    /// for recycling are closed spread over this window. Zero = no recycling.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromSeconds(30);
}

public enum ListenerProtocols
{
    Http1,
    Http2,
    Http1AndHttp2,
}

/// <summary>What serves a listener's HTTP/1.1 connections (issue 15).</summary>
public enum ListenerEngine
{
    /// <summary>Kestrel's HTTP/1.1 server (the engine before Tether's own; selectable for one release, to compare).</summary>
    Kestrel,

    /// <summary>Tether's own HTTP/1.1 server on its own accept loop (strict RFC 9112 parser, exact timers): the default.
    /// HTTP/2 (h2c prior knowledge) and TLS connections are accepted by it and handed to Kestrel in-process.</summary>
    Tether,
}

public sealed record ListenerConfig
{
    /// <summary>"127.0.0.1:8080", "[::1]:8080", "0.0.0.0:80", "*:8080" (all interfaces).</summary>
    public string Address { get; init; } = "127.0.0.1:8080";

    public ListenerProtocols Protocols { get; init; } = ListenerProtocols.Http1AndHttp2;

    public TlsConfig? Tls { get; init; }

    /// <summary>nginx listen … proxy_protocol; HAProxy bind … accept-proxy.</summary>
    public ProxyProtocolConfig ProxyProtocol { get; init; } = new();

    /// <summary>"tether" (default) or "kestrel": which HTTP/1.1 server answers this listener's connections.</summary>
    public ListenerEngine Engine { get; init; } = ListenerEngine.Tether;
}

public sealed record TlsConfig
{
    /// <summary>Path to a PEM certificate (chain).</summary>
    public string Certificate { get; init; } = "";

    /// <summary>Path to the PEM private key.</summary>
    public string Key { get; init; } = "";
}

/// <summary>TCP keepalive probes on a socket (SO_KEEPALIVE + TCP_KEEPIDLE/INTVL/CNT).</summary>
public sealed record TcpKeepAliveConfig
{
    public TimeSpan Idle { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(10);

    public int Probes { get; init; } = 6;
}

public sealed record DownstreamConfig
{
    /// <summary>nginx lingering_timeout: after an error response that closes the connection, how long the engine
    /// "tether" keeps reading and discarding what the client still sends, so it reads the response instead of a reset.</summary>
    public TimeSpan LingeringTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>nginx keepalive_timeout; Kestrel KeepAliveTimeout.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(75);

    /// <summary>nginx keepalive_requests. The response that reaches the cap carries Connection: close. 0 = unlimited.</summary>
    public int MaxRequestsPerConnection { get; init; } = 1000;

    /// <summary>nginx keepalive_time. Null = off.</summary>
    public TimeSpan? MaxConnectionLifetime { get; init; }

    /// <summary>Up to this much is taken off <see cref="MaxConnectionLifetime"/> per connection, so connections
    /// opened together do not all close together. Null = a tenth of the lifetime; zero = none.</summary>
    public TimeSpan? MaxConnectionLifetimeJitter { get; init; }

    /// <summary>nginx client_header_timeout; Kestrel RequestHeadersTimeout.</summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Send "Keep-Alive: timeout=N" on HTTP/1.1 responses (nginx's second keepalive_timeout argument).</summary>
    public bool AdvertiseKeepAlive { get; init; }

    /// <summary>Null = the OS default (no SO_KEEPALIVE).</summary>
    public TcpKeepAliveConfig? TcpKeepAlive { get; init; }

    /// <summary>SO_SNDBUF of each accepted socket in bytes (nginx listen sndbuf=, HAProxy tune.sndbuf.client).
    /// Caps what a client that does not read can make Tether push into the kernel. 0 = the OS default (autotuned).</summary>
    public int SendBufferSize { get; init; }

    /// <summary>SO_RCVBUF of each accepted socket in bytes (nginx listen rcvbuf=, HAProxy tune.rcvbuf.client). 0 = the OS default.</summary>
    public int ReceiveBufferSize { get; init; }

    /// <summary>nginx client_body_timeout; Kestrel MinRequestBodyDataRate.</summary>
    public DataRateConfig MinRequestBodyRate { get; init; } = new();

    /// <summary>nginx send_timeout; Kestrel MinResponseDataRate.</summary>
    public DataRateConfig MinResponseRate { get; init; } = new();

    /// <summary>Time a client has to complete the TLS handshake (Kestrel HandshakeTimeout).</summary>
    public TimeSpan TlsHandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>nginx limit_conn per $binary_remote_addr. Per client IP (after PROXY protocol). 0 = unlimited.</summary>
    public int MaxConnectionsPerClient { get; init; }

    /// <summary>Client connections open at once over all listeners; nginx worker_connections, HAProxy maxconn. 0 = unlimited.</summary>
    public int MaxConnections { get; init; }

    /// <summary>Bytes of the request line; longer gets 414. nginx large_client_header_buffers.</summary>
    public int MaxRequestLineSize { get; init; } = 8 * 1024;

    /// <summary>Bytes of all request headers; more gets 431.</summary>
    public int MaxRequestHeadersSize { get; init; } = 32 * 1024;

    /// <summary>Number of request headers; more gets 431.</summary>
    public int MaxRequestHeaderCount { get; init; } = 100;

    public Http2LimitsConfig Http2 { get; init; } = new();

    /// <summary>CIDRs of proxies in front whose X-Forwarded-For is kept and appended to; from anyone else it is replaced.</summary>
    public NetworkListConfig TrustedProxies { get; init; } = NetworkListConfig.Empty;

    /// <summary>nginx client_max_body_size: a request body larger than this gets 413 (before any byte reaches a
    /// backend when its Content-Length says so; a streamed body is cut off when it passes the size). 0 = unlimited.
    /// A route may set its own (<see cref="RouteConfig.MaxRequestBodySize"/>).</summary>
    public long MaxRequestBodySize { get; init; } = 1024 * 1024;

    /// <summary>Send an RFC 7239 Forwarded header (for, proto, host) to backends, appended to a trusted proxy's own,
    /// as X-Forwarded-For is. Off: a client's Forwarded header is dropped unless its peer is a trusted proxy.</summary>
    public bool AddForwarded { get; init; }

    /// <summary>nginx underscores_in_headers / ignore_invalid_headers. What to do with a request header whose
    /// name holds "_" (a backend or CGI gateway that maps "_" to "-" would read Transfer_Encoding as Transfer-Encoding).</summary>
    public UnderscoreHeaders UnderscoresInHeaders { get; init; } = UnderscoreHeaders.Drop;
}

/// <summary>downstream.underscoresInHeaders.</summary>
public enum UnderscoreHeaders
{
    /// <summary>"drop": the header is not forwarded (nginx's default).</summary>
    Drop,

    /// <summary>"reject": the request gets 400.</summary>
    Reject,

    /// <summary>"allow": forwarded as sent (nginx underscores_in_headers on).</summary>
    Allow,
}

public sealed record RouteConfig
{
    public RouteMatchConfig Match { get; init; } = new();

    /// <summary>Where the route sends requests; "" when it answers itself (<see cref="Redirect"/> or <see cref="Respond"/>).</summary>
    public string Cluster { get; init; } = "";

    /// <summary>Null = <see cref="DownstreamConfig.MaxRequestBodySize"/>; 0 = unlimited.</summary>
    public long? MaxRequestBodySize { get; init; }

    /// <summary>Path and header changes on the way to the backend and back. Null = none.</summary>
    public TransformsConfig? Transforms { get; init; }

    /// <summary>The route answers with a redirect (no cluster).</summary>
    public RedirectConfig? Redirect { get; init; }

    /// <summary>The route answers with a fixed response (no cluster).</summary>
    public RespondConfig? Respond { get; init; }

    /// <summary>Null = no rate limit.</summary>
    public RateLimitConfig? RateLimit { get; init; }

    public CompressionConfig Compression { get; init; } = new();
}

public sealed record RouteMatchConfig
{
    /// <summary>Exact host (case-insensitive, port ignored) or "*.example.com". Null = any host.</summary>
    public string? Host { get; init; }

    /// <summary>Path prefix on segment boundaries ("/api" matches "/api" and "/api/x", not "/apix"). Null = "/".</summary>
    public string? PathPrefix { get; init; }

    /// <summary>Null = any method; otherwise one of these (case-sensitive, as methods are).</summary>
    public IReadOnlyList<string>? Methods { get; init; }

    /// <summary>Every one of these must hold. Empty = no header condition.</summary>
    public IReadOnlyList<HeaderMatchConfig> Headers { get; init; } = [];
}

public static class LoadBalancingPolicyNames
{
    public const string LeastConnections = "leastConnections";
    public const string PowerOfTwoChoices = "powerOfTwoChoices";
    public const string RoundRobin = "roundRobin";
    public const string Random = "random";
    public const string ConsistentHash = "consistentHash";

    /// <summary>Every policy the config accepts; the one list validation, parsing and docs go by.
    /// A new policy adds its constant here.</summary>
    public static IReadOnlyList<string> All { get; } = [LeastConnections, PowerOfTwoChoices, RoundRobin, Random, ConsistentHash];
}

public sealed record ClusterConfig
{
    public IReadOnlyList<DestinationConfig> Destinations { get; init; } = [];

    /// <summary>Destinations written by the backends themselves (etcd keys with leases), beside or instead of
    /// <see cref="Destinations"/>. Null = none.</summary>
    public DestinationsFromConfig? DestinationsFrom { get; init; }

    public string LoadBalancing { get; init; } = LoadBalancingPolicyNames.LeastConnections;

    public PoolConfig Pool { get; init; } = new();

    /// <summary>On by default (idle 60s, interval 10s, 6 probes): an idle pooled connection whose peer vanished
    /// (a NAT or firewall that forgot the flow) is found within about two minutes. Null = off ("tcpKeepAlive": false).</summary>
    public TcpKeepAliveConfig? TcpKeepAlive { get; init; } = new();

    /// <summary>TCP_USER_TIMEOUT on upstream sockets: data sent (or keepalive probes) left unacknowledged this long
    /// fails the connection. Null = the kernel's default (about 15 minutes of retransmissions).</summary>
    public TimeSpan? TcpUserTimeout { get; init; }

    /// <summary>nginx proxy_read_timeout: from the end of the request to the response headers, and between body reads.</summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Envoy per_try_idle_timeout: no byte from the backend for this long while an HTTP/1.1 response is awaited
    /// or streamed fails the attempt (retried on another destination when nothing reached the client and the method is
    /// idempotent). Below <see cref="ResponseTimeout"/>, which then bounds the wait for the whole response head. Null = off.</summary>
    public TimeSpan? ReadIdleTimeout { get; init; }

    /// <summary>HAProxy timeout tunnel: a tunnel (WebSocket or other upgrade) in which no byte has crossed either way
    /// for this long is closed. Null = never.</summary>
    public TimeSpan? TunnelIdleTimeout { get; init; } = TimeSpan.FromHours(1);

    /// <summary>No peer has it. For WebSocket tunnels: a side silent this long gets a Ping from Tether, and one that
    /// stays silent as long again is taken for dead and the tunnel is closed. Null = off.</summary>
    public TimeSpan? WebSocketPingInterval { get; init; }

    /// <summary>HAProxy server … send-proxy / send-proxy-v2: a PROXY header naming the client on each backend connection.</summary>
    public ProxyProtocolVersion ProxyProtocol { get; init; } = ProxyProtocolVersion.Off;

    /// <summary>Active probes, passive ejection and slow start. See <see cref="HealthCheckConfig"/>.</summary>
    public HealthCheckConfig HealthCheck { get; init; } = new();

    public RetryConfig Retries { get; init; } = new();

    /// <summary>How often destinations written as host names are resolved again (nginx server … resolve): the
    /// longest an answer is kept; a shorter record TTL re-resolves sooner. Null = resolve once, at start.</summary>
    public TimeSpan? ResolveInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The shortest wait between two resolutions, however short the records' TTL (0 included).</summary>
    public TimeSpan ResolveMinInterval { get; init; } = TimeSpan.FromSeconds(1);

    public ConsistentHashConfig ConsistentHash { get; init; } = new();

    /// <summary>How requests are spoken to the destinations (HAProxy server … proto h2 / alpn; nginx grpc_pass).</summary>
    public UpstreamProtocol Protocol { get; init; } = UpstreamProtocol.Http1;

    /// <summary>TLS to the destinations written as "https://…" (nginx proxy_ssl_*; HAProxy server … ssl verify ca-file sni crt).</summary>
    public UpstreamTlsConfig Tls { get; init; } = new();

    /// <summary>HTTP/2 connections to the destinations (protocol "http2", or "auto" when ALPN picks h2).</summary>
    public Http2UpstreamConfig Http2 { get; init; } = new();
}

/// <summary>clusters.&lt;name&gt;.protocol.</summary>
public enum UpstreamProtocol
{
    /// <summary>"http1": HTTP/1.1, over TLS for https:// destinations (ALPN http/1.1).</summary>
    Http1,

    /// <summary>"http2": h2c with prior knowledge on http://, ALPN h2 on https://.</summary>
    Http2,

    /// <summary>"auto": TLS only; ALPN offers h2 then http/1.1 and the backend picks.</summary>
    Auto,
}

/// <summary>The lowest TLS version offered to a backend (clusters.&lt;name&gt;.tls.minVersion: "1.2" or "1.3").</summary>
public enum TlsMinimumVersion
{
    Tls12,
    Tls13,
}

/// <summary>clusters.&lt;name&gt;.tls: how https:// destinations are verified and what Tether presents.</summary>
public sealed record UpstreamTlsConfig
{
    /// <summary>nginx proxy_ssl_trusted_certificate; HAProxy ca-file. PEM bundle of the CAs trusted for the
    /// backends' certificates. Null = the system store.</summary>
    public string? CaFile { get; init; }

    /// <summary>nginx proxy_ssl_name (+ proxy_ssl_server_name on); HAProxy sni / verifyhost. The name sent as
    /// SNI and verified in the certificate. Null = the destination's host.</summary>
    public string? ServerName { get; init; }

    /// <summary>nginx proxy_ssl_verify; HAProxy verify required|none. False skips every check (a warning at start).</summary>
    public bool Verify { get; init; } = true;

    /// <summary>nginx proxy_ssl_certificate; HAProxy crt. PEM client certificate (chain) for mTLS; needs <see cref="Key"/>.</summary>
    public string? Certificate { get; init; }

    /// <summary>nginx proxy_ssl_certificate_key. PEM private key of <see cref="Certificate"/>.</summary>
    public string? Key { get; init; }

    /// <summary>nginx proxy_ssl_session_reuse; HAProxy no-ssl-reuse (inverted). Resume TLS sessions on new connections.</summary>
    public bool SessionReuse { get; init; } = true;

    /// <summary>nginx proxy_ssl_protocols; HAProxy ssl-min-ver.</summary>
    public TlsMinimumVersion MinVersion { get; init; } = TlsMinimumVersion.Tls12;
}

/// <summary>clusters.&lt;name&gt;.http2: liveness of HTTP/2 backend connections.</summary>
public sealed record Http2UpstreamConfig
{
    /// <summary>Envoy connection_keepalive.interval. While streams are open on a connection, a PING is sent
    /// after this long without a frame from the backend. Null = no PINGs.</summary>
    public TimeSpan? PingInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Envoy connection_keepalive.timeout. A PING not acknowledged within this closes the connection
    /// and fails its streams (502), rather than leaving them hanging.</summary>
    public TimeSpan PingTimeout { get; init; } = TimeSpan.FromSeconds(20);
}

/// <summary>One backend. Written as "127.0.0.1:9001", "http://host:port", "https://host:port" (TLS) or an object.</summary>
public sealed record DestinationConfig
{
    /// <summary>The address as the user wrote it.</summary>
    public string Address { get; init; } = "";

    /// <summary>Host name or IP literal (no brackets).</summary>
    public string Host { get; init; } = "";

    /// <summary>As written, or 80 for "http://host", 443 for "https://host".</summary>
    public int Port { get; init; } = 80;

    public int Weight { get; init; } = 1;

    /// <summary>Written as "https://…": spoken to over TLS (clusters.&lt;name&gt;.tls).</summary>
    public bool UseTls { get; init; }

    /// <summary>Written as "srv://_http._tcp.name": <see cref="Host"/> is an SRV name whose records give the
    /// targets, ports and weights (<see cref="Port"/> is 0 until then).</summary>
    public bool Srv { get; init; }

    /// <summary>"host:port" as used in logs and metrics labels ("srv://name" for an SRV name).</summary>
    public string Name => Srv ? "srv://" + Host : Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}

public sealed record PoolConfig
{
    /// <summary>nginx upstream keepalive N; HAProxy pool-max-conn. Idle connections kept per destination.</summary>
    public int MaxIdlePerDestination { get; init; } = 64;

    /// <summary>HAProxy pool-purge-delay. How long a connection returned above <see cref="MaxIdlePerDestination"/>
    /// may stay idle before it is closed, so that bursts above the cap reuse connections instead of opening new
    /// ones. Zero = closed on return, as nginx does.</summary>
    public TimeSpan ExcessIdleTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>No peer has it. Learn each destination's real idle timeout from the idle connections it closes
    /// (oldest first, while younger ones stay open) and give connections up before it.</summary>
    public bool LearnIdleTimeout { get; init; } = true;

    /// <summary>nginx upstream keepalive_timeout. An idle connection older than this is closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>nginx upstream keepalive_requests; HAProxy max-reuse. 0 = unlimited.</summary>
    public int MaxRequestsPerConnection { get; init; } = 1000;

    /// <summary>nginx upstream keepalive_time. Null or zero = unlimited.</summary>
    public TimeSpan? MaxLifetime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>nginx max_conns; HAProxy maxconn on a server. 0 = unlimited.</summary>
    public int MaxConnectionsPerDestination { get; init; }

    /// <summary>HAProxy timeout queue: how long a request waits for a connection when the destination is at its cap.</summary>
    public TimeSpan QueueTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>HAProxy maxqueue: requests allowed to wait per destination; 0 = unlimited.</summary>
    public int MaxQueuePerDestination { get; init; }

    /// <summary>nginx proxy_connect_timeout; HAProxy timeout connect.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>HTTP/2 backends: streams Tether opens at once on one connection, below the backend's own
    /// SETTINGS_MAX_CONCURRENT_STREAMS (HAProxy max-reuse per stream count; Envoy max_concurrent_streams).
    /// More requests open another connection (up to <see cref="MaxConnectionsPerDestination"/>). 0 = the backend's limit.</summary>
    public int MaxConcurrentStreams { get; init; } = 100;
}

public sealed record AdminConfig
{
    /// <summary>Null or "" = no admin endpoint.</summary>
    public string? Address { get; init; } = "127.0.0.1:9901";

    /// <summary>When set, every admin path but /healthz asks for "Authorization: Bearer &lt;token&gt;" (the dashboard
    /// page takes it once as ?token=). Null = no check.</summary>
    public string? Token { get; init; }
}

public sealed record ChainConfig
{
    /// <summary>Idle timeout of the load balancer in front of Tether (e.g. an AWS ALB's 60s). Null = unknown.</summary>
    public TimeSpan? FrontIdleTimeout { get; init; }

    /// <summary>Idle timeout of a NAT gateway / firewall between Tether and its backends. Null = unknown.</summary>
    public TimeSpan? NatIdleTimeout { get; init; }
}
