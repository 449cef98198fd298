using System.Net;
using Tether.Configuration;
using Tether.Upstream.Connecting;
using Tether.Upstream.Health;
using Tether.Upstream.Http2;
using Tether.Upstream.Http1;
using Tether.Upstream.Pooling;

namespace Tether.Upstream.Destinations;

/// <summary>
/// Runtime state of one backend: its pool, health and live counters. The endpoint is fixed; a config reload
/// or a DNS change that changes it builds a new state and drains this one.
/// </summary>
public sealed class DestinationState : IDisposable
{
    private int _inFlight;
    private long _requests;
    private long _failures;
    private long _picks;

    // 1 once draining began: no new request may start here. Set with a full fence, read after InFlight is
    // raised (see TryEnter), so a request and the drain never both miss each other.
    private int _draining;
    private int _disposed;

    // protocol "auto": 0 until the first connection's ALPN answer, then 1 (http/1.1) or 2 (h2).
    private int _negotiated;
    private Task<bool>? _negotiating;

    /// <param name="tls">The cluster's TLS client, for an https:// destination (null: cleartext).</param>
    public DestinationState(
        string clusterName, DestinationConfig config, ClusterConfig cluster, TimeProvider timeProvider, string? resolvedFrom = null, UpstreamTlsClient? tls = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(cluster);
        ClusterName = clusterName;
        Config = config;
        Name = config.Name;
        ResolvedFrom = resolvedFrom;
        EndPoint = IPAddress.TryParse(config.Host, out var ip) ? new IPEndPoint(ip, config.Port) : new DnsEndPoint(config.Host, config.Port);
        HostHeader = resolvedFrom is null
            ? (config.Port == 80 ? config.Host : Name)
            : (config.Port == 80 ? resolvedFrom : $"{resolvedFrom}:{config.Port}");
        Health = new DestinationHealth(config.Weight, cluster.HealthCheck, timeProvider);

        var pool = cluster.Pool;
        var sendsProxyHeader = cluster.ProxyProtocol != ProxyProtocolVersion.Off;
        var poolOptions = new PoolOptions
        {
            // A connection that starts with a PROXY header speaks for one client: never pooled for another.
            MaxIdle = sendsProxyHeader ? 0 : pool.MaxIdlePerDestination,
            ExcessIdleTimeout = pool.ExcessIdleTimeout,
            LearnIdleTimeout = pool.LearnIdleTimeout,
            MaxConnections = pool.MaxConnectionsPerDestination,
            MaxQueue = pool.MaxQueuePerDestination,
            QueueTimeout = pool.QueueTimeout,
            PreferHomeThread = PoolOptions.InlineSocketCompletions,
        };
        Connector = new UpstreamConnector(EndPoint, resolvedFrom ?? config.Host, pool.ConnectTimeout, cluster.TcpKeepAlive, config.UseTls ? tls : null, cluster.TcpUserTimeout);
        var connector = Connector;
        Pool = new ConnectionPool<Http1Connection>(
            poolOptions,
            (data, ct) => Http1Connection.ConnectAsync(
                connector, data,
                () => new ConnectionLifetime(timeProvider, pool.IdleTimeout, pool.MaxLifetime, pool.MaxRequestsPerConnection), ct),
            timeProvider);
        Protocol = cluster.Protocol;
        if (cluster.Protocol != UpstreamProtocol.Http1)
        {
            Http2 = new Http2Pool(Connector, Name, pool, cluster.Http2);
        }
    }

    public string ClusterName { get; }

    public DestinationConfig Config { get; }

    /// <summary>"host:port", as in logs and metrics (for a resolved host name, the address: "10.0.0.5:9001").</summary>
    public string Name { get; }

    /// <summary>The host name this address was resolved from, or null for an address written as such.</summary>
    public string? ResolvedFrom { get; }

    public EndPoint EndPoint { get; }

    /// <summary>A Host header naming the destination itself (for probes; proxied requests keep the client's Host).</summary>
    public string HostHeader { get; }

    /// <summary>Opens connections to this destination (TCP, PROXY header, TLS).</summary>
    public UpstreamConnector Connector { get; }

    /// <summary>HTTP/1.1 connections (all requests with protocol http1; upgrades always; "auto" when ALPN chose http/1.1).</summary>
    public ConnectionPool<Http1Connection> Pool { get; }

    /// <summary>The cluster's clusters.&lt;name&gt;.protocol.</summary>
    public UpstreamProtocol Protocol { get; }

    /// <summary>HTTP/2 connections, for protocol http2 or auto; null for http1.</summary>
    public Http2Pool? Http2 { get; }

    /// <summary>
    /// Whether requests go over <see cref="Http2"/>: always for protocol http2, never for http1; for auto, what
    /// the backend chose by ALPN on a first connection made to find out (kept for the first streams when it is h2,
    /// closed when it is HTTP/1.1), remembered for the
    /// destination's life. Throws <see cref="UpstreamException"/> if that connection fails.
    /// </summary>
    public ValueTask<bool> UsesHttp2Async(CancellationToken cancellationToken)
    {
        if (Protocol != UpstreamProtocol.Auto)
        {
            return ValueTask.FromResult(Protocol == UpstreamProtocol.Http2);
        }

        var negotiated = Volatile.Read(ref _negotiated);
        return negotiated != 0 ? ValueTask.FromResult(negotiated == 2) : NegotiateAsync(cancellationToken);
    }

    private async ValueTask<bool> NegotiateAsync(CancellationToken cancellationToken)
    {
        // One negotiation at a time; a failed one is forgotten, so the next request tries again.
        var mine = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var task = Interlocked.CompareExchange(ref _negotiating, mine.Task, null) ?? mine.Task;
        if (task == mine.Task)
        {
            try
            {
                var transport = await Connector.ConnectAsync(default, AlpnOffer.Http2OrHttp1, CancellationToken.None).ConfigureAwait(false);
                var http2 = transport.IsHttp2;
                if (http2)
                {
                    Http2!.Offer(transport); // it carries the first streams
                }
                else
                {
                    transport.Dispose(); // the HTTP/1.1 pool opens its own (ALPN http/1.1)
                }

                Volatile.Write(ref _negotiated, http2 ? 2 : 1);
                mine.SetResult(http2);
            }
            catch (Exception ex)
            {
                Volatile.Write(ref _negotiating, null);
                mine.SetException(ex);
            }
        }

        return await task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }


    public DestinationHealth Health { get; }

    /// <summary>Requests being proxied to this destination now (what least-connections compares).</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Attempts sent here since start (retries included).</summary>
    public long Requests => Volatile.Read(ref _requests);

    /// <summary>Requests for which the policy ranked this destination first.</summary>
    public long Picks => Volatile.Read(ref _picks);

    /// <summary>Requests that ended in an upstream error.</summary>
    public long Failures => Volatile.Read(ref _failures);

    /// <summary>How long each attempt here took, from asking for a connection to the last response byte (a tunnel: to its end).</summary>
    public DurationHistogram ExchangeDuration { get; } = new(DurationHistogram.LatencyBoundsSeconds);

    /// <summary>Removed from its cluster (DNS no longer lists it): finishing what is in flight, taking nothing new.</summary>
    public bool IsDraining => Volatile.Read(ref _draining) != 0;

    public bool IsAvailable(long now) => !IsDraining && Health.IsAvailable(now);

    public void OnPicked() => Interlocked.Increment(ref _picks);

    /// <summary>
    /// Counts a request in, unless the destination is draining (then returns false and counts nothing).
    /// The increment is a full fence before the read of the drain flag; <see cref="BeginDrain"/> does the
    /// mirror image, so either the request sees the drain or the drain sees the request.
    /// </summary>
    public bool TryEnter()
    {
        Interlocked.Increment(ref _inFlight);
        if (Volatile.Read(ref _draining) != 0)
        {
            Interlocked.Decrement(ref _inFlight);
            return false;
        }

        Interlocked.Increment(ref _requests);
        return true;
    }

    public void OnRequestStarted()
    {
        Interlocked.Increment(ref _inFlight);
        Interlocked.Increment(ref _requests);
    }

    public void OnRequestEnded() => Interlocked.Decrement(ref _inFlight);

    public void OnFailure() => Interlocked.Increment(ref _failures);

    /// <summary>Stops new requests; closes the pool at once if nothing is in flight. Returns true if it did.</summary>
    public bool BeginDrain()
    {
        Interlocked.Exchange(ref _draining, 1);
        return TryFinishDrain();
    }

    /// <summary>Closes the pool (idle connections now, busy ones as they return) once nothing is in flight.</summary>
    public bool TryFinishDrain()
    {
        if (InFlight != 0)
        {
            return false;
        }

        Dispose();
        return true;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Pool.Dispose();
            Http2?.Dispose();
        }
    }
}
