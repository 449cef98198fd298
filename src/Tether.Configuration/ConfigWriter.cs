using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tether.Configuration.Binding;

namespace Tether.Configuration;

/// <summary>
/// <see cref="TetherConfig"/> → JSON in the config file's own syntax (durations as "65s", every key
/// written out), or the same tree in YAML, so the effective config can be printed and read back by <see cref="ConfigLoader"/>.
/// </summary>
public static partial class ConfigWriter
{
    private static readonly JsonSerializerOptions _options = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private const string Hidden = "(hidden)";

    public static string ToJson(TetherConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return ToTree(config).ToJsonString(_options);
    }

    // The config as the tree a file would parse to: one shape for both syntaxes.
    private static JsonObject ToTree(TetherConfig config)
    {
        var listeners = new JsonArray();
        foreach (var listener in config.Listeners)
        {
            listeners.Add(new JsonObject
            {
                ["address"] = listener.Address,
                ["protocols"] = EnumName(listener.Protocols),
                ["tls"] = listener.Tls is { } tls ? new JsonObject { ["certificate"] = tls.Certificate, ["key"] = tls.Key } : null,
                ["proxyProtocol"] = new JsonObject
                {
                    ["mode"] = EnumName(listener.ProxyProtocol.Mode),
                    ["trustedNetworks"] = Strings(listener.ProxyProtocol.TrustedNetworks),
                    ["timeout"] = Durations.Format(listener.ProxyProtocol.Timeout),
                },
                ["engine"] = EnumName(listener.Engine),
            });
        }

        var routes = new JsonArray();
        foreach (var route in config.Routes)
        {
            routes.Add(ConfigWriterRoutes.Route(route));
        }

        var clusters = new JsonObject();
        foreach (var (name, cluster) in config.Clusters)
        {
            clusters[name] = Cluster(cluster);
        }

        var downstream = config.Downstream;
        var root = new JsonObject
        {
            ["listeners"] = listeners,
            ["downstream"] = new JsonObject
            {
                ["keepAliveTimeout"] = Durations.Format(downstream.KeepAliveTimeout),
                ["lingeringTimeout"] = Durations.Format(downstream.LingeringTimeout),
                ["maxRequestsPerConnection"] = downstream.MaxRequestsPerConnection,
                ["maxConnectionLifetime"] = Durations.Format(downstream.MaxConnectionLifetime),
                ["maxConnectionLifetimeJitter"] = downstream.MaxConnectionLifetimeJitter is { } jitter ? Durations.Format(jitter) : null,
                ["requestHeadersTimeout"] = Durations.Format(downstream.RequestHeadersTimeout),
                ["advertiseKeepAlive"] = downstream.AdvertiseKeepAlive,
                ["tcpKeepAlive"] = TcpKeepAlive(downstream.TcpKeepAlive),
                ["sendBufferSize"] = downstream.SendBufferSize,
                ["receiveBufferSize"] = downstream.ReceiveBufferSize,
                ["minRequestBodyRate"] = DataRate(downstream.MinRequestBodyRate),
                ["minResponseRate"] = DataRate(downstream.MinResponseRate),
                ["tlsHandshakeTimeout"] = Durations.Format(downstream.TlsHandshakeTimeout),
                ["maxConnectionsPerClient"] = downstream.MaxConnectionsPerClient,
                ["maxConnections"] = downstream.MaxConnections,
                ["maxRequestLineSize"] = downstream.MaxRequestLineSize,
                ["maxRequestHeadersSize"] = downstream.MaxRequestHeadersSize,
                ["maxRequestHeaderCount"] = downstream.MaxRequestHeaderCount,
                ["http2"] = new JsonObject
                {
                    ["maxStreamsPerConnection"] = downstream.Http2.MaxStreamsPerConnection,
                    ["initialStreamWindowSize"] = downstream.Http2.InitialStreamWindowSize,
                    ["initialConnectionWindowSize"] = downstream.Http2.InitialConnectionWindowSize,
                    ["maxControlFramesPerSecond"] = downstream.Http2.MaxControlFramesPerSecond,
                },
                ["trustedProxies"] = Strings(downstream.TrustedProxies),
                ["maxRequestBodySize"] = Sizes.Format(downstream.MaxRequestBodySize),
                ["addForwarded"] = downstream.AddForwarded,
                ["underscoresInHeaders"] = EnumName(downstream.UnderscoresInHeaders),
            },
            ["routes"] = routes,
            ["clusters"] = clusters,
            // Secrets are not printed: "(hidden)" says one is set.
            ["admin"] = new JsonObject { ["address"] = config.Admin.Address, ["token"] = config.Admin.Token is null ? null : Hidden },
            ["chain"] = new JsonObject
            {
                ["frontIdleTimeout"] = Durations.Format(config.Chain.FrontIdleTimeout),
                ["natIdleTimeout"] = Durations.Format(config.Chain.NatIdleTimeout),
            },
            ["drain"] = new JsonObject { ["delay"] = Durations.Format(config.Drain.Delay), ["timeout"] = Durations.Format(config.Drain.Timeout) },
            ["recycle"] = new JsonObject { ["window"] = Durations.Format(config.Recycle.Window) },
            ["accessLog"] = new JsonObject
            {
                ["path"] = config.AccessLog.Path,
                ["format"] = EnumName(config.AccessLog.Format),
                ["queueSize"] = config.AccessLog.QueueSize,
            },
            ["telemetry"] = new JsonObject
            {
                ["tracing"] = new JsonObject { ["sampleRatio"] = config.Telemetry.Tracing.SampleRatio },
                ["otlp"] = new JsonObject
                {
                    ["endpoint"] = config.Telemetry.Otlp.Endpoint,
                    ["headers"] = new JsonObject(config.Telemetry.Otlp.Headers.Select(h => KeyValuePair.Create(h.Key, (JsonNode?)Hidden))),
                    ["exportInterval"] = Durations.Format(config.Telemetry.Otlp.ExportInterval),
                },
            },
            ["etcd"] = new JsonObject
            {
                ["endpoints"] = Strings(config.Etcd.Endpoints),
                ["username"] = config.Etcd.Username,
                ["password"] = config.Etcd.Password is null ? null : Hidden,
                ["tls"] = config.Etcd.Tls is { } etcdTls
                    ? new JsonObject { ["caFile"] = etcdTls.CaFile, ["certificate"] = etcdTls.Certificate, ["key"] = etcdTls.Key }
                    : null,
            },
            ["dns"] = new JsonObject { ["servers"] = Strings(config.Dns.Servers), ["timeout"] = Durations.Format(config.Dns.Timeout) },
        };
        return root;
    }

    private static JsonObject Cluster(ClusterConfig cluster)
    {
        var destinations = new JsonArray();
        foreach (var destination in cluster.Destinations)
        {
            destinations.Add(new JsonObject { ["address"] = destination.Address, ["weight"] = destination.Weight });
        }

        var pool = cluster.Pool;
        return new JsonObject
        {
            ["destinations"] = destinations,
            ["loadBalancing"] = cluster.LoadBalancing,
            ["protocol"] = EnumName(cluster.Protocol),
            ["tls"] = new JsonObject
            {
                ["caFile"] = cluster.Tls.CaFile,
                ["serverName"] = cluster.Tls.ServerName,
                ["verify"] = cluster.Tls.Verify,
                ["certificate"] = cluster.Tls.Certificate,
                ["key"] = cluster.Tls.Key,
                ["sessionReuse"] = cluster.Tls.SessionReuse,
                ["minVersion"] = ValueParsers.TlsVersionName(cluster.Tls.MinVersion),
            },
            ["http2"] = new JsonObject
            {
                ["pingInterval"] = Durations.Format(cluster.Http2.PingInterval),
                ["pingTimeout"] = Durations.Format(cluster.Http2.PingTimeout),
            },
            ["pool"] = new JsonObject
            {
                ["maxIdlePerDestination"] = pool.MaxIdlePerDestination,
                ["idleTimeout"] = Durations.Format(pool.IdleTimeout),
                ["excessIdleTimeout"] = Durations.Format(pool.ExcessIdleTimeout),
                ["learnIdleTimeout"] = pool.LearnIdleTimeout,
                ["maxRequestsPerConnection"] = pool.MaxRequestsPerConnection,
                ["maxLifetime"] = Durations.Format(pool.MaxLifetime),
                ["maxConnectionsPerDestination"] = pool.MaxConnectionsPerDestination,
                ["queueTimeout"] = Durations.Format(pool.QueueTimeout),
                ["maxQueuePerDestination"] = pool.MaxQueuePerDestination,
                ["connectTimeout"] = Durations.Format(pool.ConnectTimeout),
                ["maxConcurrentStreams"] = pool.MaxConcurrentStreams,
            },
            ["tcpKeepAlive"] = cluster.TcpKeepAlive is null ? (JsonNode)false : TcpKeepAlive(cluster.TcpKeepAlive),
            ["tcpUserTimeout"] = Durations.Format(cluster.TcpUserTimeout),
            ["responseTimeout"] = Durations.Format(cluster.ResponseTimeout),
            ["readIdleTimeout"] = Durations.Format(cluster.ReadIdleTimeout),
            ["tunnelIdleTimeout"] = Durations.Format(cluster.TunnelIdleTimeout),
            ["webSocketPingInterval"] = Durations.Format(cluster.WebSocketPingInterval),
            ["proxyProtocol"] = EnumName(cluster.ProxyProtocol),
            ["healthCheck"] = HealthCheck(cluster.HealthCheck),
            ["retries"] = new JsonObject
            {
                ["maxAttempts"] = cluster.Retries.MaxAttempts,
                ["timeout"] = Durations.Format(cluster.Retries.Timeout),
                ["budgetPercent"] = cluster.Retries.BudgetPercent,
                ["budgetMinPerSecond"] = cluster.Retries.BudgetMinPerSecond,
            },
            ["resolveInterval"] = Durations.Format(cluster.ResolveInterval),
            ["resolveMinInterval"] = Durations.Format(cluster.ResolveMinInterval),
            ["destinationsFrom"] = cluster.DestinationsFrom is { } from ? new JsonObject { ["etcd"] = from.Etcd } : null,
            ["consistentHash"] = new JsonObject { ["key"] = cluster.ConsistentHash.Key },
        };
    }

    private static JsonObject HealthCheck(HealthCheckConfig health) => new()
    {
        ["active"] = health.Active is { } active
            ? new JsonObject
            {
                ["path"] = active.Path,
                ["interval"] = Durations.Format(active.Interval),
                ["timeout"] = Durations.Format(active.Timeout),
                ["healthyThreshold"] = active.HealthyThreshold,
                ["unhealthyThreshold"] = active.UnhealthyThreshold,
                ["expectedStatus"] = active.ExpectedStatus,
            }
            : null,
        ["passive"] = new JsonObject
        {
            ["consecutiveFailures"] = health.Passive.ConsecutiveFailures,
            ["baseEjectionTime"] = Durations.Format(health.Passive.BaseEjectionTime),
            ["maxEjectionTime"] = Durations.Format(health.Passive.MaxEjectionTime),
        },
        ["slowStart"] = Durations.Format(health.SlowStart),
    };

    // "optional", "v2": the enum name in lower camelCase, as the config spells it.
    internal static string EnumName<T>(T value)
        where T : struct, Enum
    {
        var name = value.ToString();
        return char.ToLowerInvariant(name[0]) + name[1..];
    }

    private static JsonObject DataRate(DataRateConfig rate) => new()
    {
        ["bytesPerSecond"] = rate.BytesPerSecond,
        ["grace"] = Durations.Format(rate.Grace),
    };

    internal static JsonArray Strings(IReadOnlyList<string> values)
    {
        var array = new JsonArray();
        foreach (var value in values)
        {
            array.Add(value);
        }

        return array;
    }

    private static JsonObject? TcpKeepAlive(TcpKeepAliveConfig? keepAlive) => keepAlive is null
        ? null
        : new JsonObject
        {
            ["idle"] = Durations.Format(keepAlive.Idle),
            ["interval"] = Durations.Format(keepAlive.Interval),
            ["probes"] = keepAlive.Probes,
        };
}
