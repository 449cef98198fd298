using System.Net;
using Tether.Configuration;
using Tether.Upstream.Http1;
using Tether.Upstream.Pooling;

namespace Tether.Upstream.Destinations;

/// <summary>
/// Runtime state of one backend: its pool and live counters. The endpoint is fixed; a config reload that
/// changes it builds a new state.
/// </summary>
public sealed class DestinationState : IDisposable
{
    private int _inFlight;
    private long _requests;
    private long _failures;

    public DestinationState(string clusterName, DestinationConfig config, ClusterConfig cluster, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(cluster);
        ClusterName = clusterName;
        Config = config;
        Name = config.Name;
        EndPoint = IPAddress.TryParse(config.Host, out var ip) ? new IPEndPoint(ip, config.Port) : new DnsEndPoint(config.Host, config.Port);
        HostHeader = config.Port == 80 ? config.Host : Name;

        var pool = cluster.Pool;
        var poolOptions = new PoolOptions
        {
            MaxIdle = pool.MaxIdlePerDestination,
            MaxConnections = pool.MaxConnectionsPerDestination,
            MaxQueue = pool.MaxQueuePerDestination,
            QueueTimeout = pool.QueueTimeout,
        };
        var endPoint = EndPoint;
        var keepAlive = cluster.TcpKeepAlive;
        Pool = new ConnectionPool<Http1Connection>(
            poolOptions,
            ct => Http1Connection.ConnectAsync(
                endPoint, pool.ConnectTimeout, keepAlive,
                () => new ConnectionLifetime(timeProvider, pool.IdleTimeout, pool.MaxLifetime, pool.MaxRequestsPerConnection), ct),
            timeProvider);
    }

    public string ClusterName { get; }

    public DestinationConfig Config { get; }

    /// <summary>"host:port", as in logs and metrics.</summary>
    public string Name { get; }

    public EndPoint EndPoint { get; }

    /// <summary>A Host header naming the destination itself (for probes; proxied requests keep the client's Host).</summary>
    public string HostHeader { get; }

    public ConnectionPool<Http1Connection> Pool { get; }

    /// <summary>Requests being proxied to this destination now (what least-connections compares).</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Requests sent here since start (each pick counts once, retries included).</summary>
    public long Requests => Volatile.Read(ref _requests);

    /// <summary>Requests that ended in an upstream error.</summary>
    public long Failures => Volatile.Read(ref _failures);

    public void OnRequestStarted()
    {
        Interlocked.Increment(ref _inFlight);
        Interlocked.Increment(ref _requests);
    }

    public void OnRequestEnded() => Interlocked.Decrement(ref _inFlight);

    public void OnFailure() => Interlocked.Increment(ref _failures);

    public void Dispose() => Pool.Dispose();
}
