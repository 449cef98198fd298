using System.Net;
using Tether.Configuration;
using Tether.Upstream.Destinations;
using Tether.Upstream.Discovery;
using Tether.Upstream.Http1;
using Tether.Upstream.Pooling;

namespace Tether.Client;

/// <summary>Which pool a request goes to: scheme, host and port of its URI.</summary>
internal readonly record struct HostKey(bool Https, string Host, int Port)
{
    public static HostKey For(Uri uri)
    {
        var host = uri.IdnHost;
        if (host.Length > 1 && host[0] == '[')
        {
            host = host[1..^1];
        }

        return new HostKey(uri.Scheme == Uri.UriSchemeHttps, host, uri.Port);
    }

    /// <summary>"host:port" ("[::1]:80" for IPv6), as in metrics and log lines.</summary>
    public string Authority => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}

/// <summary>
/// Everything one scheme://host:port uses: Tether.Upstream's <see cref="ClusterState"/> with the host as its one
/// configured destination, so a host name becomes one destination per address it resolves to (each with its own
/// pool, least-connections between them, passive health, re-resolution that adds addresses and drains vanished ones).
/// </summary>
internal sealed class HostPool : IDisposable
{
    private long _lastUsedTimestamp;

    // The pools ClientMetrics reads, as last seen by TrackPools. Guarded by itself.
    private readonly HashSet<ConnectionPool<Http1Connection>> _tracked = [];

    public HostPool(HostKey key, TetherClientOptions options, IHostResolver resolver, IClusterObserver observer)
    {
        Key = key;
        Authority = key.Authority;
        TimeProvider = options.TimeProvider;
        DefaultHostHeader = (key.Https ? key.Port == 443 : key.Port == 80) ? (key.Host.Contains(':', StringComparison.Ordinal) ? $"[{key.Host}]" : key.Host) : Authority;
        var config = new ClusterConfig
        {
            Destinations = [new DestinationConfig { Address = Authority, Host = key.Host, Port = key.Port, UseTls = key.Https }],
            LoadBalancing = LoadBalancingPolicyNames.LeastConnections,
            Pool = new PoolConfig
            {
                MaxIdlePerDestination = options.MaxIdleConnectionsPerHost,
                ExcessIdleTimeout = TimeSpan.Zero,
                LearnIdleTimeout = options.LearnIdleTimeout,
                IdleTimeout = options.IdleTimeout,
                MaxRequestsPerConnection = options.MaxRequestsPerConnection,
                MaxLifetime = options.MaxLifetime,
                MaxConnectionsPerDestination = options.MaxConnectionsPerHost,
                MaxQueuePerDestination = options.MaxQueuePerHost,
                QueueTimeout = options.QueueTimeout,
                ConnectTimeout = options.ConnectTimeout,
                MaxConcurrentStreams = options.MaxConcurrentStreams,
            },
            TcpKeepAlive = options.TcpKeepAliveIdle is { } idle
                ? new TcpKeepAliveConfig { Idle = idle, Interval = options.TcpKeepAliveInterval, Probes = options.TcpKeepAliveProbes }
                : null,
            // Auto needs ALPN; on cleartext there is nothing to negotiate with, so it is HTTP/1.1 there.
            Protocol = options.Protocol switch
            {
                TetherProtocol.Http2 => UpstreamProtocol.Http2,
                TetherProtocol.Auto when key.Https => UpstreamProtocol.Auto,
                _ => UpstreamProtocol.Http1,
            },
            Http2 = new Http2UpstreamConfig { PingInterval = options.PingInterval, PingTimeout = options.PingTimeout },
            ResponseTimeout = options.ResponseTimeout,
            ResolveInterval = options.DnsRefreshInterval,
            Retries = new RetryConfig { MaxAttempts = options.MaxAttempts },
            Tls = new UpstreamTlsConfig
            {
                CaFile = options.TlsCaFile,
                ServerName = options.TlsServerName,
                Verify = options.TlsVerifyCertificate,
                Certificate = options.TlsClientCertificateFile,
                Key = options.TlsClientKeyFile,
            },
        };
        Cluster = new ClusterState(Authority, config, options.TimeProvider, resolver, observer);
        Touch(TimeProvider.GetTimestamp());
    }

    public HostKey Key { get; }

    /// <summary>Whether this host's addresses have HTTP/2 pools (Protocol Http2, or Auto on https://).</summary>
    public bool OffersHttp2 => Cluster.Config.Protocol != UpstreamProtocol.Http1;

    public string Authority { get; }

    /// <summary>The Host header when the request sets none: the host, with the port unless it is the scheme's default.</summary>
    public string DefaultHostHeader { get; }

    public ClusterState Cluster { get; }

    public TimeProvider TimeProvider { get; }

    /// <summary>When a request last used this host (TimeProvider timestamp).</summary>
    public long LastUsedTimestamp => Volatile.Read(ref _lastUsedTimestamp);

    /// <summary>A request uses the host at <paramref name="timestamp"/>. Written only when it moved by 10 ms or more: the
    /// sweep forgets hosts unused for minutes, and a write on every request would bounce the field's cache line between
    /// the cores of every caller.</summary>
    public void Touch(long timestamp)
    {
        if (timestamp - Volatile.Read(ref _lastUsedTimestamp) >= TimeProvider.TimestampFrequency / 100)
        {
            Volatile.Write(ref _lastUsedTimestamp, timestamp);
        }
    }

    /// <summary>Nothing in flight, nothing idle, nothing draining: the host can be forgotten without losing anything.</summary>
    public bool IsUnused
    {
        get
        {
            if (Cluster.Draining.Count > 0)
            {
                return false;
            }

            foreach (var d in Cluster.Destinations)
            {
                if (d.InFlight > 0 || d.Pool.IdleCount > 0 || d.Pool.LeasedCount > 0)
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>Keeps <see cref="ClientMetrics"/> reading every pool of this host: those DNS added since the last call
    /// are tracked, those gone (drained and closed) are retired with their counts.</summary>
    public void TrackPools()
    {
        lock (_tracked)
        {
            var current = new HashSet<ConnectionPool<Http1Connection>>();
            foreach (var d in Cluster.Destinations)
            {
                current.Add(d.Pool);
            }

            foreach (var d in Cluster.Draining)
            {
                current.Add(d.Pool);
            }

            foreach (var pool in current)
            {
                if (_tracked.Add(pool))
                {
                    ClientMetrics.Track(pool);
                }
            }

            _tracked.RemoveWhere(pool =>
            {
                if (current.Contains(pool))
                {
                    return false;
                }

                ClientMetrics.Retire(pool);
                return true;
            });
        }
    }

    public void Dispose()
    {
        Cluster.Dispose();
        lock (_tracked)
        {
            foreach (var pool in _tracked)
            {
                ClientMetrics.Retire(pool);
            }

            _tracked.Clear();
        }
    }
}

/// <summary><see cref="TetherClientOptions.ResolveHost"/> (or the system resolver) as Tether.Upstream's resolver seam.</summary>
internal sealed class DelegateHostResolver(Func<string, CancellationToken, Task<IPAddress[]>> resolve) : IHostResolver
{
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) => resolve(host, cancellationToken);
}
