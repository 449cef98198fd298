using System.Text.Json.Nodes;

namespace Tether.Configuration.Binding;

/// <summary>
/// JSON tree → <see cref="TetherConfig"/>. Each section reads its keys by their camelCase names with the
/// record's default; what cannot be read is reported and replaced by the default, so one pass finds every
/// error. Semantic checks (ranges, references) are <see cref="ConfigValidator"/>'s.
/// </summary>
internal static partial class ConfigBinder
{
    public static TetherConfig Bind(JsonObject root, BindContext context)
    {
        var reader = ObjectReader.Open(context, root, "");
        var defaults = new TetherConfig();
        var config = new TetherConfig
        {
            Listeners = BindList(reader, "listeners", defaults.Listeners, BindListener),
            Downstream = BindDownstream(reader.Object("downstream")),
            Routes = BindList(reader, "routes", defaults.Routes, BindRoute),
            Clusters = BindClusters(reader.Object("clusters")),
            Admin = BindAdmin(reader.Object("admin")),
            Chain = BindChain(reader.Object("chain")),
            Drain = BindDrain(reader.Object("drain")),
            Recycle = BindRecycle(reader.Object("recycle")),
            AccessLog = BindAccessLog(reader.Object("accessLog")),
            Telemetry = BindTelemetry(reader.Object("telemetry")),
            Dns = BindDns(reader.Object("dns")),
            Etcd = BindEtcd(reader.Object("etcd")),
        };
        reader.Finish();
        return config;
    }

    private static List<T> BindList<T>(ObjectReader parent, string key, IReadOnlyList<T> defaults, Func<BindContext, JsonNode?, string, T> bindItem) =>
        BindOptionalList(parent, key, bindItem) ?? [.. defaults];

    /// <summary>The list under <paramref name="key"/>, or null when it is absent (or not an array, reported).</summary>
    private static List<T>? BindOptionalList<T>(ObjectReader parent, string key, Func<BindContext, JsonNode?, string, T> bindItem)
    {
        var array = parent.Array(key, out var path);
        if (array is null)
        {
            return null;
        }

        var items = new List<T>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            items.Add(bindItem(parent.Context, array[i], ConfigText.Index(path, i)));
        }

        return items;
    }

    private static ListenerConfig BindListener(BindContext context, JsonNode? node, string path)
    {
        var reader = Required(context, node, path, "a listener such as { \"address\": \"127.0.0.1:8080\" }");
        var defaults = new ListenerConfig();
        var listener = new ListenerConfig
        {
            Address = reader.Read("address", defaults.Address, ValueParsers.String),
            Protocols = reader.Read("protocols", defaults.Protocols, ValueParsers.Protocols),
            Tls = BindTls(reader.Object("tls")),
            ProxyProtocol = BindProxyProtocol(reader.Object("proxyProtocol")),
            Engine = reader.Read("engine", defaults.Engine, ValueParsers.Engine),
        };
        reader.Finish();
        return listener;
    }

    private static TlsConfig? BindTls(ObjectReader reader)
    {
        var defaults = new TlsConfig();
        var tls = new TlsConfig
        {
            Certificate = reader.Read("certificate", defaults.Certificate, ValueParsers.String),
            Key = reader.Read("key", defaults.Key, ValueParsers.String),
        };
        reader.Finish();
        return reader.IsPresent ? tls : null;
    }

    private static DownstreamConfig BindDownstream(ObjectReader reader)
    {
        var defaults = new DownstreamConfig();
        var downstream = new DownstreamConfig
        {
            KeepAliveTimeout = reader.Read("keepAliveTimeout", defaults.KeepAliveTimeout, ValueParsers.Duration),
            LingeringTimeout = reader.Read("lingeringTimeout", defaults.LingeringTimeout, ValueParsers.Duration),
            MaxRequestsPerConnection = reader.Read("maxRequestsPerConnection", defaults.MaxRequestsPerConnection, ValueParsers.Int),
            MaxConnectionLifetime = reader.Read("maxConnectionLifetime", defaults.MaxConnectionLifetime, ValueParsers.OptionalDuration),
            MaxConnectionLifetimeJitter = reader.Read("maxConnectionLifetimeJitter", defaults.MaxConnectionLifetimeJitter, PresentDuration),
            RequestHeadersTimeout = reader.Read("requestHeadersTimeout", defaults.RequestHeadersTimeout, ValueParsers.Duration),
            AdvertiseKeepAlive = reader.Read("advertiseKeepAlive", defaults.AdvertiseKeepAlive, ValueParsers.Bool),
            TcpKeepAlive = BindTcpKeepAlive(reader.Object("tcpKeepAlive")),
        };
        downstream = BindDownstreamProtection(reader, downstream);
        reader.Finish();
        return downstream;
    }

    private static TcpKeepAliveConfig? BindTcpKeepAlive(ObjectReader reader)
    {
        var defaults = new TcpKeepAliveConfig();
        var keepAlive = new TcpKeepAliveConfig
        {
            Idle = reader.Read("idle", defaults.Idle, ValueParsers.Duration),
            Interval = reader.Read("interval", defaults.Interval, ValueParsers.Duration),
            Probes = reader.Read("probes", defaults.Probes, ValueParsers.Int),
        };
        reader.Finish();
        return reader.IsPresent ? keepAlive : null;
    }

    private static CompressionConfig BindCompression(ObjectReader reader)
    {
        var defaults = new CompressionConfig();
        var compression = new CompressionConfig
        {
            Enabled = reader.Read("enabled", defaults.Enabled, ValueParsers.Bool),
            Algorithms = BindList(reader, "algorithms", defaults.Algorithms, BindName),
            ContentTypes = BindList(reader, "contentTypes", defaults.ContentTypes, BindName),
            MinSize = reader.Read("minSize", defaults.MinSize, ValueParsers.Size),
            Level = reader.Read("level", defaults.Level, ValueParsers.CompressionLevel),
        };
        reader.Finish();
        return compression;
    }

    // One string of a list of names (algorithms, media types); what it means is the validator's to check.
    private static string BindName(BindContext context, JsonNode? node, string path)
    {
        if (ValueParsers.String(node, context.VariableOf(node) is not null, out var value, out var error))
        {
            return value;
        }

        context.Error(path, node, error);
        return "";
    }

    private static Dictionary<string, ClusterConfig> BindClusters(ObjectReader reader)
    {
        var clusters = new Dictionary<string, ClusterConfig>(StringComparer.Ordinal);
        foreach (var (name, node) in reader.Entries())
        {
            clusters[name] = BindCluster(reader.Context, node, ConfigText.Child(reader.Path, name));
        }

        return clusters;
    }

    private static ClusterConfig BindCluster(BindContext context, JsonNode? node, string path)
    {
        var reader = Required(context, node, path, "a cluster such as { \"destinations\": [\"127.0.0.1:9001\"] }");
        var defaults = new ClusterConfig();
        var cluster = new ClusterConfig
        {
            Destinations = BindList(reader, "destinations", defaults.Destinations, BindDestination),
            LoadBalancing = reader.Read("loadBalancing", defaults.LoadBalancing, ValueParsers.LoadBalancing),
            Pool = BindPool(reader.Object("pool")),
            ResponseTimeout = reader.Read("responseTimeout", defaults.ResponseTimeout, ValueParsers.Duration),
            TunnelIdleTimeout = reader.Read("tunnelIdleTimeout", defaults.TunnelIdleTimeout, ValueParsers.OptionalDuration),
            WebSocketPingInterval = reader.Read("webSocketPingInterval", defaults.WebSocketPingInterval, ValueParsers.OptionalDuration),
            ProxyProtocol = reader.Read("proxyProtocol", defaults.ProxyProtocol, ValueParsers.ProxyProtocolVersion),
            HealthCheck = BindHealthCheck(reader.Object("healthCheck")),
            Retries = BindRetries(reader.Object("retries")),
            ResolveInterval = reader.Read("resolveInterval", defaults.ResolveInterval, ValueParsers.OptionalDuration),
            DestinationsFrom = BindDestinationsFrom(reader.Object("destinationsFrom")),
            ResolveMinInterval = reader.Read("resolveMinInterval", defaults.ResolveMinInterval, ValueParsers.Duration),
            ConsistentHash = BindConsistentHash(reader.Object("consistentHash")),
        };
        cluster = BindClusterUpstream(reader, cluster);
        reader.Finish();
        return cluster;
    }

    // "127.0.0.1:9001" or { "address": "127.0.0.1:9001", "weight": 2 }. A destination that cannot be read
    // stays in the list as a placeholder, so later indexes keep the numbers the user sees.
    private static DestinationConfig BindDestination(BindContext context, JsonNode? node, string path)
    {
        string address;
        var weight = new DestinationConfig().Weight;
        var addressPath = path;
        if (node is JsonObject jsonObject)
        {
            var reader = ObjectReader.Open(context, node, path);
            address = reader.Read("address", "", ValueParsers.String);
            weight = reader.Read("weight", weight, ValueParsers.Int);
            reader.Finish();
            addressPath = ConfigText.Child(path, "address");
            node = jsonObject["address"];
            if (context.IsBelowFailed(addressPath))
            {
                context.MarkFailed(path);
                return new DestinationConfig { Address = address, Weight = weight };
            }
        }
        else if (!ValueParsers.String(node, context.VariableOf(node) is not null, out address, out _))
        {
            context.Error(path, node, $"expected a destination such as \"127.0.0.1:9001\" or {{ \"address\": \"127.0.0.1:9001\", \"weight\": 2 }}, got {ConfigText.KindOf(node)}");
            return new DestinationConfig { Weight = weight };
        }

        if (!AddressParser.TryParseDestination(address, weight, out var destination, out var error))
        {
            context.Error(addressPath, node, error!);
            context.MarkFailed(path);
        }

        return destination;
    }

    private static PoolConfig BindPool(ObjectReader reader)
    {
        var defaults = new PoolConfig();
        var pool = new PoolConfig
        {
            MaxIdlePerDestination = reader.Read("maxIdlePerDestination", defaults.MaxIdlePerDestination, ValueParsers.Int),
            IdleTimeout = reader.Read("idleTimeout", defaults.IdleTimeout, ValueParsers.Duration),
            ExcessIdleTimeout = reader.Read("excessIdleTimeout", defaults.ExcessIdleTimeout, ValueParsers.Duration),
            LearnIdleTimeout = reader.Read("learnIdleTimeout", defaults.LearnIdleTimeout, ValueParsers.Bool),
            MaxRequestsPerConnection = reader.Read("maxRequestsPerConnection", defaults.MaxRequestsPerConnection, ValueParsers.Int),
            MaxLifetime = reader.Read("maxLifetime", defaults.MaxLifetime, ValueParsers.OptionalDuration),
            MaxConnectionsPerDestination = reader.Read("maxConnectionsPerDestination", defaults.MaxConnectionsPerDestination, ValueParsers.Int),
            QueueTimeout = reader.Read("queueTimeout", defaults.QueueTimeout, ValueParsers.Duration),
            MaxQueuePerDestination = reader.Read("maxQueuePerDestination", defaults.MaxQueuePerDestination, ValueParsers.Int),
            ConnectTimeout = reader.Read("connectTimeout", defaults.ConnectTimeout, ValueParsers.Duration),
            MaxConcurrentStreams = reader.Read("maxConcurrentStreams", defaults.MaxConcurrentStreams, ValueParsers.Int),
        };
        reader.Finish();
        return pool;
    }

    private static AdminConfig BindAdmin(ObjectReader reader)
    {
        var admin = new AdminConfig
        {
            Address = reader.Read("address", new AdminConfig().Address, ValueParsers.OptionalString),
            Token = reader.Read("token", new AdminConfig().Token, ValueParsers.OptionalString),
        };
        reader.Finish();
        return admin;
    }

    private static DestinationsFromConfig? BindDestinationsFrom(ObjectReader reader)
    {
        var from = new DestinationsFromConfig { Etcd = reader.Read("etcd", "", ValueParsers.String) };
        reader.Finish();
        return reader.IsPresent ? from : null;
    }

    private static EtcdConfig BindEtcd(ObjectReader reader)
    {
        var tls = reader.Object("tls");
        var etcd = new EtcdConfig
        {
            Endpoints = BindList(reader, "endpoints", new EtcdConfig().Endpoints, BindAddressString),
            Username = reader.Read<string?>("username", null, ValueParsers.OptionalString),
            Password = reader.Read<string?>("password", null, ValueParsers.OptionalString),
            Tls = BindEtcdTls(tls),
        };
        reader.Finish();
        return etcd;
    }

    private static EtcdTlsConfig? BindEtcdTls(ObjectReader reader)
    {
        var tls = new EtcdTlsConfig
        {
            CaFile = reader.Read<string?>("caFile", null, ValueParsers.OptionalString),
            Certificate = reader.Read<string?>("certificate", null, ValueParsers.OptionalString),
            Key = reader.Read<string?>("key", null, ValueParsers.OptionalString),
        };
        reader.Finish();
        return reader.IsPresent ? tls : null;
    }

    // One address of a list (dns.servers, etcd.endpoints); what it means is the validator's to check.
    private static string BindAddressString(BindContext context, JsonNode? node, string path)
    {
        if (ValueParsers.String(node, context.VariableOf(node) is not null, out var text, out var error))
        {
            return text;
        }

        context.Error(path, node, error + ", such as \"127.0.0.1:2379\"");
        return "";
    }

    private static DnsConfig BindDns(ObjectReader reader)
    {
        var defaults = new DnsConfig();
        var dns = new DnsConfig
        {
            Servers = BindList(reader, "servers", defaults.Servers, BindAddressString),
            Timeout = reader.Read("timeout", defaults.Timeout, ValueParsers.Duration),
        };
        reader.Finish();
        return dns;
    }

    private static ChainConfig BindChain(ObjectReader reader)
    {
        var defaults = new ChainConfig();
        var chain = new ChainConfig
        {
            FrontIdleTimeout = reader.Read("frontIdleTimeout", defaults.FrontIdleTimeout, ValueParsers.OptionalDuration),
            NatIdleTimeout = reader.Read("natIdleTimeout", defaults.NatIdleTimeout, ValueParsers.OptionalDuration),
        };
        reader.Finish();
        return chain;
    }

    // An array element or cluster must be an object; JSON null there is a mistake too, not "absent".
    private static ObjectReader Required(BindContext context, JsonNode? node, string path, string example)
    {
        if (node is null)
        {
            context.Error(path, node, $"expected {example}, got null");
        }

        return ObjectReader.Open(context, node, path);
    }
}
