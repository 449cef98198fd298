using System.Globalization;
using Tether.Configuration.Binding;

namespace Tether.Configuration;

/// <summary>
/// Semantic checks on a config, parsed or built in code: addresses, ranges, references between routes
/// and clusters. Collects every error; each names its key path and what to write instead.
/// </summary>
public static partial class ConfigValidator
{
    private const int MaxWeight = 1000;

    // Linux limits for TCP_KEEPIDLE / TCP_KEEPINTVL (seconds) and TCP_KEEPCNT.
    private const int MaxKeepAliveSeconds = 32767;
    private const int MaxKeepAliveProbes = 127;

    public static IReadOnlyList<ConfigError> Validate(TetherConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var errors = new List<ConfigError>();
        var listenerAddresses = ValidateListeners(config.Listeners, errors);
        ValidateDownstream(config.Downstream, errors);
        ValidateProtection(config, errors);
        ValidateRoutes(config.Routes, config.Clusters, errors);
        foreach (var (name, cluster) in config.Clusters)
        {
            ValidateCluster(name, cluster, config.Etcd, errors);
        }

        ValidateAdmin(config.Admin, listenerAddresses, errors);
        OptionalPositive(errors, "chain.frontIdleTimeout", config.Chain.FrontIdleTimeout, "60s");
        OptionalPositive(errors, "chain.natIdleTimeout", config.Chain.NatIdleTimeout, "350s");
        ValidateOperations(config, errors);
        return errors;
    }

    // Returns the normalized "host:port" of each listener that parsed, with its path, for the admin check.
    private static Dictionary<string, string> ValidateListeners(IReadOnlyList<ListenerConfig> listeners, List<ConfigError> errors)
    {
        var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (listeners.Count == 0)
        {
            errors.Add(new ConfigError("listeners", "[]", "add at least one listener such as { \"address\": \"127.0.0.1:8080\" }"));
            return seen;
        }

        for (var i = 0; i < listeners.Count; i++)
        {
            var listener = listeners[i];
            var path = ConfigText.Index("listeners", i);
            var addressPath = path + ".address";
            if (ParseAddress(listener.Address, addressPath, "127.0.0.1:8080", errors) is { } key)
            {
                if (seen.TryGetValue(key, out var firstPath))
                {
                    errors.Add(new ConfigError(addressPath, ConfigText.Quote(listener.Address),
                        $"{firstPath} already listens on this address; give each listener its own address or port"));
                }
                else
                {
                    seen[key] = addressPath;
                }
            }

            if (!Enum.IsDefined(listener.Protocols))
            {
                errors.Add(new ConfigError(path + ".protocols", listener.Protocols.ToString(), "use \"http1\", \"http2\" or \"http1AndHttp2\""));
            }

            // protocols "http2" without TLS is HTTP/2 with prior knowledge (h2c): allowed, nothing to say.
            if (listener.Tls is { } tls)
            {
                ValidateTls(tls, path + ".tls", errors);
            }
        }

        return seen;
    }

    private static void ValidateTls(TlsConfig tls, string path, List<ConfigError> errors)
    {
        if (string.IsNullOrWhiteSpace(tls.Certificate) && string.IsNullOrWhiteSpace(tls.Key))
        {
            errors.Add(new ConfigError(path, null,
                "TLS needs a certificate and a key; add \"certificate\" and \"key\" with the paths of PEM files, or remove \"tls\""));
            return;
        }

        ValidatePemFile(tls.Certificate, path + ".certificate", "certificate", "/etc/tether/tls/cert.pem", errors);
        ValidatePemFile(tls.Key, path + ".key", "private key", "/etc/tether/tls/key.pem", errors);
    }

    private static void ValidatePemFile(string file, string path, string what, string example, List<ConfigError> errors)
    {
        if (string.IsNullOrWhiteSpace(file))
        {
            errors.Add(new ConfigError(path, ConfigText.Quote(file),
                $"TLS needs both a certificate and a key; give the path of the PEM {what}, such as \"{example}\", or remove \"tls\""));
        }
        else if (PemFiles.Unreadable(file, what) is { } problem)
        {
            errors.Add(new ConfigError(path, ConfigText.Quote(file), problem));
        }
    }

    private static void ValidateDownstream(DownstreamConfig downstream, List<ConfigError> errors)
    {
        Positive(errors, "downstream.keepAliveTimeout", downstream.KeepAliveTimeout, "75s");
        Positive(errors, "downstream.lingeringTimeout", downstream.LingeringTimeout, "5s");
        Positive(errors, "downstream.requestHeadersTimeout", downstream.RequestHeadersTimeout, "10s");
        NotNegative(errors, "downstream.maxRequestsPerConnection", downstream.MaxRequestsPerConnection, "1000, or 0 for unlimited");
        if (downstream.MaxRequestBodySize < 0)
        {
            errors.Add(new ConfigError("downstream.maxRequestBodySize", downstream.MaxRequestBodySize.ToString(CultureInfo.InvariantCulture),
                "cannot be negative; use a size such as \"1m\", or 0 for unlimited"));
        }
        OptionalPositive(errors, "downstream.maxConnectionLifetime", downstream.MaxConnectionLifetime, "1h");
        if (downstream.TcpKeepAlive is { } keepAlive)
        {
            ValidateTcpKeepAlive(keepAlive, "downstream.tcpKeepAlive", errors);
        }
    }

    private static void ValidateTcpKeepAlive(TcpKeepAliveConfig keepAlive, string path, List<ConfigError> errors)
    {
        KeepAliveSeconds(errors, path + ".idle", keepAlive.Idle, "60s");
        KeepAliveSeconds(errors, path + ".interval", keepAlive.Interval, "10s");
        if (keepAlive.Probes is < 1 or > MaxKeepAliveProbes)
        {
            errors.Add(new ConfigError(path + ".probes", Number(keepAlive.Probes),
                $"use a number of probes from 1 to {MaxKeepAliveProbes} (the Linux limit), such as 6"));
        }
    }

    private static void KeepAliveSeconds(List<ConfigError> errors, string path, TimeSpan value, string example)
    {
        if (value < TimeSpan.FromSeconds(1) || value > TimeSpan.FromSeconds(MaxKeepAliveSeconds))
        {
            errors.Add(new ConfigError(path, ConfigText.Quote(Durations.Format(value)),
                $"the kernel counts TCP keepalive in whole seconds from 1s to {MaxKeepAliveSeconds}s; use a duration such as \"{example}\""));
        }
    }

    private static void ValidateCompression(string path, CompressionConfig compression, List<ConfigError> errors)
    {
        var algorithms = compression.Algorithms;
        if (algorithms.Count == 0)
        {
            errors.Add(new ConfigError(path + ".algorithms", "[]", "name at least one algorithm: [\"br\", \"gzip\"], or set \"enabled\": false"));
        }

        for (var i = 0; i < algorithms.Count; i++)
        {
            var at = ConfigText.Index(path + ".algorithms", i);
            if (algorithms[i] is not (CompressionAlgorithms.Brotli or CompressionAlgorithms.Gzip))
            {
                errors.Add(new ConfigError(at, ConfigText.Quote(algorithms[i]), "use \"br\" (brotli) or \"gzip\""));
            }
            else if (IndexOf(algorithms, algorithms[i]) < i)
            {
                errors.Add(new ConfigError(at, ConfigText.Quote(algorithms[i]), "this algorithm is listed twice; keep one"));
            }
        }

        for (var i = 0; i < compression.ContentTypes.Count; i++)
        {
            var type = compression.ContentTypes[i];
            var slash = type.IndexOf('/', StringComparison.Ordinal);
            if (slash <= 0 || slash == type.Length - 1 || type.Contains(';', StringComparison.Ordinal) || type.Contains(' ', StringComparison.Ordinal)
                || (type.Contains('*', StringComparison.Ordinal) && !type.EndsWith("/*", StringComparison.Ordinal)) || type.StartsWith('*'))
            {
                errors.Add(new ConfigError(ConfigText.Index(path + ".contentTypes", i), ConfigText.Quote(type),
                    "write a media type such as \"application/json\" or a whole type such as \"text/*\", without parameters"));
            }
        }
    }

    private static int IndexOf(IReadOnlyList<string> values, string value)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (values[i] == value)
            {
                return i;
            }
        }

        return -1;
    }

    private static void ValidateCluster(string name, ClusterConfig cluster, EtcdConfig etcd, List<ConfigError> errors)
    {
        var path = ConfigText.Child("clusters", name);
        if (string.IsNullOrWhiteSpace(name))
        {
            errors.Add(new ConfigError(path, ConfigText.Quote(name), "give the cluster a name such as \"api\""));
        }

        if (cluster.DestinationsFrom is { } from)
        {
            if (!from.Etcd.StartsWith('/'))
            {
                errors.Add(new ConfigError(path + ".destinationsFrom.etcd", ConfigText.Quote(from.Etcd),
                    "write the etcd key prefix the backends register under, such as \"/tether/clusters/api/\""));
            }

            if (etcd.Endpoints.Count == 0)
            {
                errors.Add(new ConfigError(path + ".destinationsFrom", "{ … }", "add etcd.endpoints, such as [\"127.0.0.1:2379\"], to say which etcd to read"));
            }
        }
        else if (cluster.Destinations.Count == 0)
        {
            errors.Add(new ConfigError(path + ".destinations", "[]", "add at least one destination such as \"127.0.0.1:9001\""));
        }

        for (var i = 0; i < cluster.Destinations.Count; i++)
        {
            ValidateDestination(cluster.Destinations[i], ConfigText.Index(path + ".destinations", i), errors);
        }

        if (!LoadBalancingPolicyNames.All.Contains(cluster.LoadBalancing, StringComparer.Ordinal))
        {
            errors.Add(new ConfigError(path + ".loadBalancing", ConfigText.Quote(cluster.LoadBalancing),
                "use one of " + string.Join(", ", LoadBalancingPolicyNames.All.Select(ConfigText.Quote))));
        }

        ValidatePool(cluster.Pool, path + ".pool", errors);
        if (cluster.TcpKeepAlive is { } keepAlive)
        {
            ValidateTcpKeepAlive(keepAlive, path + ".tcpKeepAlive", errors);
        }

        Positive(errors, path + ".responseTimeout", cluster.ResponseTimeout, "60s");
        OptionalPositive(errors, path + ".tunnelIdleTimeout", cluster.TunnelIdleTimeout, "1h");
        OptionalPositive(errors, path + ".webSocketPingInterval", cluster.WebSocketPingInterval, "30s");
        ValidateBalancing(cluster, path, errors);
        ValidateUpstream(cluster, path, errors);
    }

    private static void ValidateDestination(DestinationConfig destination, string path, List<ConfigError> errors)
    {
        if (string.IsNullOrWhiteSpace(destination.Host) || (!destination.Srv && destination.Port is < 1 or > 65535))
        {
            var value = destination.Address.Length > 0 ? destination.Address : destination.Name;
            errors.Add(new ConfigError(path, ConfigText.Quote(value),
                "a destination needs a host and a port from 1 to 65535, such as \"127.0.0.1:9001\" (in code, build it with AddressParser.TryParseDestination)"));
        }

        if (destination.Weight is < 1 or > MaxWeight)
        {
            errors.Add(new ConfigError(path + ".weight", Number(destination.Weight),
                $"use a weight from 1 to {MaxWeight}; 1 is the default"));
        }
    }

    private static void ValidatePool(PoolConfig pool, string path, List<ConfigError> errors)
    {
        NotNegative(errors, path + ".maxIdlePerDestination", pool.MaxIdlePerDestination, "64, or 0 to keep no idle connections");
        Positive(errors, path + ".idleTimeout", pool.IdleTimeout, "60s");
        NotNegative(errors, path + ".excessIdleTimeout", pool.ExcessIdleTimeout, "2s");
        NotNegative(errors, path + ".maxRequestsPerConnection", pool.MaxRequestsPerConnection, "1000, or 0 for unlimited");
        if (pool.MaxLifetime is { } lifetime && lifetime < TimeSpan.Zero)
        {
            errors.Add(new ConfigError(path + ".maxLifetime", ConfigText.Quote(Durations.Format(lifetime)),
                "use a duration such as \"1h\", or \"off\" for unlimited"));
        }

        NotNegative(errors, path + ".maxConnectionsPerDestination", pool.MaxConnectionsPerDestination, "256, or 0 for unlimited");
        if (pool.QueueTimeout < TimeSpan.Zero)
        {
            errors.Add(new ConfigError(path + ".queueTimeout", ConfigText.Quote(Durations.Format(pool.QueueTimeout)),
                "use a duration such as \"5s\", or \"0s\" to answer 503 at once when the destination is full"));
        }

        NotNegative(errors, path + ".maxQueuePerDestination", pool.MaxQueuePerDestination, "100, or 0 for unlimited");
        Positive(errors, path + ".connectTimeout", pool.ConnectTimeout, "5s");
        NotNegative(errors, path + ".maxConcurrentStreams", pool.MaxConcurrentStreams, "100, or 0 for the backend's own limit");
    }

    private static readonly System.Buffers.SearchValues<char> TokenCharacters =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=");

    private static void ValidateAdmin(AdminConfig admin, Dictionary<string, string> listenerAddresses, List<ConfigError> errors)
    {
        if (string.IsNullOrEmpty(admin.Address))
        {
            return; // no admin endpoint
        }

        if (ParseAddress(admin.Address, "admin.address", "127.0.0.1:9901", errors) is { } key
            && listenerAddresses.TryGetValue(key, out var listenerPath))
        {
            errors.Add(new ConfigError("admin.address", ConfigText.Quote(admin.Address),
                $"{listenerPath} already uses this address; give the admin endpoint its own port, such as \"127.0.0.1:9901\""));
        }

        if (admin.Token is { } token && (token.Length < 16 || token.AsSpan().ContainsAnyExcept(TokenCharacters)))
        {
            errors.Add(new ConfigError("admin.token", "(hidden)",
                "use at least 16 letters, digits or -._~+/= (a bearer token, RFC 6750), such as the output of `openssl rand -hex 24`"));
        }
    }

    // The normalized "host:port" (host lower-case, without brackets), or null after reporting why it does not parse.
    private static string? ParseAddress(string address, string path, string example, List<ConfigError> errors)
    {
        if (!AddressParser.TryParseHostPort(address, out var host, out var port, out var problem))
        {
            errors.Add(new ConfigError(path, ConfigText.Quote(address), $"{problem}; write host:port such as \"{example}\""));
            return null;
        }

        if (port == 0)
        {
            // Port 0 asks the OS for any free port (tests, and the gateway reports what it bound); two such
            // listeners never collide, so there is nothing to compare.
            return null;
        }

        return host.ToLowerInvariant() + ":" + port.ToString(CultureInfo.InvariantCulture);
    }

    private static void Positive(List<ConfigError> errors, string path, TimeSpan value, string example)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add(new ConfigError(path, ConfigText.Quote(Durations.Format(value)),
                $"must be more than zero; use a duration such as \"{example}\""));
        }
    }

    private static void OptionalPositive(List<ConfigError> errors, string path, TimeSpan? value, string example)
    {
        if (value is { } v && v <= TimeSpan.Zero)
        {
            errors.Add(new ConfigError(path, ConfigText.Quote(Durations.Format(v)),
                $"must be more than zero; use a duration such as \"{example}\", or \"off\""));
        }
    }

    private static void NotNegative(List<ConfigError> errors, string path, int value, string example)
    {
        if (value < 0)
        {
            errors.Add(new ConfigError(path, Number(value), $"cannot be negative; use {example}"));
        }
    }

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string FirstOr(IReadOnlyDictionary<string, ClusterConfig> clusters, string fallback)
    {
        foreach (var name in clusters.Keys)
        {
            return name;
        }

        return fallback;
    }
}
