using System.Collections.Concurrent;
using System.Net;
using System.Net.Http;
using Tether.Configuration;
using Tether.Upstream.Connecting;
using Tether.Upstream.Health;

namespace Tether.Upstream.Http2;

/// <summary>
/// The multiplexed HTTP/2 connections to one destination: SocketsHttpHandler's HTTP/2 client (framing, HPACK,
/// flow control, PING, GOAWAY) over connections Tether opens itself through the destination's
/// <see cref="UpstreamConnector"/> (socket options, TLS with ALPN h2 and its verification; h2c prior knowledge on
/// cleartext). Requests are always addressed as http:// to the handler: the TLS, if any, is already inside the
/// stream the connector returned. Knobs: pool.maxConnectionsPerDestination (connections; more streams wait),
/// pool.maxConcurrentStreams (streams per connection, below the backend's own limit,
/// <see cref="Http2ConnectionStream"/>), pool.idleTimeout and maxLifetime, http2.pingInterval / pingTimeout.
/// A GOAWAY from the backend lets streams below its last-stream-id finish, and the handler replays those above it
/// (never processed) on a new connection.
/// </summary>
public sealed class Http2Pool : IDisposable
{
    private readonly SocketsHttpHandler _handler;
    private long _created;
    private long _closed;
    private long _connectFailures;
    private long _streams;
    private int _inFlight;

    // A connection already open and speaking h2 (protocol "auto" found out with it), taken by the next connect.
    private UpstreamTransport? _offered;

    // Request URIs by target, so that a path asked for before is not parsed into a Uri again (a gRPC service is a few
    // method paths called over and over; Uri parsing and its host info were ~1% of a call's CPU). Uris are immutable and
    // shared by concurrent requests. Bounded: past MaxCachedUris distinct targets, new ones are parsed every time.
    private const int MaxCachedUris = 1024;
    private readonly ConcurrentDictionary<string, Uri> _uris = new(StringComparer.Ordinal);
    private int _cachedUris;

    public Http2Pool(UpstreamConnector connector, string authority, PoolConfig pool, Http2UpstreamConfig http2)
    {
        ArgumentNullException.ThrowIfNull(connector);
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(http2);
        Connector = connector;
        BaseAddress = "http://" + authority;
        MaxConcurrentStreams = pool.MaxConcurrentStreams;
        _handler = new SocketsHttpHandler
        {
            ConnectCallback = ConnectAsync,
            EnableMultipleHttp2Connections = true,
            MaxConnectionsPerServer = pool.MaxConnectionsPerDestination > 0 ? pool.MaxConnectionsPerDestination : int.MaxValue,
            PooledConnectionIdleTimeout = pool.IdleTimeout,
            PooledConnectionLifetime = pool.MaxLifetime is { } lifetime && lifetime > TimeSpan.Zero ? lifetime : Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = http2.PingInterval ?? Timeout.InfiniteTimeSpan,
            KeepAlivePingTimeout = http2.PingTimeout,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            ConnectTimeout = Timeout.InfiniteTimeSpan, // the connector's own connectTimeout applies
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
            ActivityHeadersPropagator = null, // traceparent passes as the client sent it; Tether adds none
            MaxResponseHeadersLength = 64,
            ResponseDrainTimeout = TimeSpan.Zero,
        };
        Invoker = new HttpMessageInvoker(_handler, disposeHandler: false);
    }

    public UpstreamConnector Connector { get; }

    /// <summary>"http://host:port": what request URIs start with (the handler's connection key).</summary>
    public string BaseAddress { get; }

    public int MaxConcurrentStreams { get; }

    public HttpMessageInvoker Invoker { get; }

    /// <summary>Connections opened since start.</summary>
    public long Created => Volatile.Read(ref _created);

    /// <summary>Connections closed since start (idle timeout, lifetime, GOAWAY, failed PING, errors).</summary>
    public long Closed => Volatile.Read(ref _closed);

    public long Open => Created - Closed;

    public long ConnectFailures => Volatile.Read(ref _connectFailures);

    /// <summary>Requests (streams) sent since start.</summary>
    public long Streams => Volatile.Read(ref _streams);

    /// <summary>Streams that went on a connection already open (every stream but each connection's first).</summary>
    public long Reused => Math.Max(0, Streams - Created);

    public int StreamsInFlight => Volatile.Read(ref _inFlight);

    /// <summary>The absolute URI of a request for <paramref name="target"/> (origin form: path and query).</summary>
    public Uri RequestUri(string target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (_uris.TryGetValue(target, out var uri))
        {
            return uri;
        }

        uri = new Uri(BaseAddress + target);
        if (Volatile.Read(ref _cachedUris) < MaxCachedUris && _uris.TryAdd(target, uri))
        {
            Interlocked.Increment(ref _cachedUris);
        }

        return uri;
    }

    /// <summary>Counts a stream in; pair with <see cref="OnStreamEnded"/>.</summary>
    public void OnStreamStarted()
    {
        Interlocked.Increment(ref _streams);
        Interlocked.Increment(ref _inFlight);
    }

    public void OnStreamEnded() => Interlocked.Decrement(ref _inFlight);

    /// <summary>An active health probe as an HTTP/2 GET over this pool's connections.</summary>
    public async Task<ProbeResult> ProbeAsync(string hostHeader, string path, StatusRange expected, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutCts.CancelAfter(timeout);
        using var request = new HttpRequestMessage(HttpMethod.Get, BaseAddress + path)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.Host = hostHeader;
        request.Headers.UserAgent.ParseAdd("tether-health-check");
        try
        {
            using var response = await Invoker.SendAsync(request, timeoutCts.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            return expected.Contains(status)
                ? new ProbeResult(true, $"status {status}")
                : new ProbeResult(false, $"status {status}, expected {expected}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ProbeResult(false, $"no answer within {timeout.TotalMilliseconds:0}ms");
        }
        catch (HttpRequestException ex)
        {
            return new ProbeResult(false, ex.InnerException is UpstreamException inner ? $"{inner.Phase} failed: {inner.Message}" : $"HTTP/2 request failed: {ex.Message}");
        }
    }

    /// <summary>Hands over a connection on which the backend chose h2 (protocol auto's first connection), so that it
    /// carries the first streams instead of being closed. Counted as created when the handler takes it.</summary>
    public void Offer(UpstreamTransport transport)
    {
        ArgumentNullException.ThrowIfNull(transport);
        Interlocked.Exchange(ref _offered, transport)?.Dispose();
    }

    public void Dispose()
    {
        Interlocked.Exchange(ref _offered, null)?.Dispose();
        Invoker.Dispose();
        _handler.Dispose();
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        UpstreamTransport transport;
        try
        {
            transport = Interlocked.Exchange(ref _offered, null)
                ?? await Connector.ConnectAsync(default, AlpnOffer.Http2, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Interlocked.Increment(ref _connectFailures);
            throw;
        }

        Interlocked.Increment(ref _created);
        return new Http2ConnectionStream(transport.Stream, transport, MaxConcurrentStreams, () => Interlocked.Increment(ref _closed), httpsScheme: transport.Tls is not null);
    }
}
