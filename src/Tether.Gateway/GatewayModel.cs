using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tether.Configuration;
using Tether.Gateway.Draining;
using Tether.Gateway.Health;
using Tether.Gateway.Reload;
using Tether.Gateway.Routing;
using Tether.Upstream.Destinations;
using Tether.Upstream.Discovery;

namespace Tether.Gateway;

/// <summary>
/// The immutable runtime snapshot built from one config: routes, clusters (with their pools) and the client
/// connection policy. A reload builds a new model and swaps it whole; requests keep the model they started
/// with. Clusters whose config did not change are carried over from the previous model (warm pools).
/// </summary>
internal sealed class GatewayModel : IDisposable
{
    public GatewayModel(TetherConfig config, TimeProvider timeProvider)
        : this(config, new GatewayOptions { TimeProvider = timeProvider })
    {
    }

    /// <summary>Builds the clusters, which start their health probes and DNS refreshes; <see cref="Dispose"/> stops them.</summary>
    public GatewayModel(TetherConfig config, GatewayOptions options, GatewayModel? previous = null, Recycler? recycler = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        Config = config;
        var eventLog = new ClusterEventLog((options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ClusterEventLog>());
        IClusterObserver observer = eventLog;
        if (recycler is not null)
        {
            observer = new RecyclingObserver(observer, recycler);
        }

        // One resolver per dns section; a reload that changes it rebuilds the clusters, which then ask the new servers.
        var sameDns = previous is not null && previous.Config.Dns.SameAs(config.Dns);
        Resolver = options.HostResolver ?? (sameDns ? previous!.Resolver : new DnsRecordResolver(config.Dns));
        var sameEtcd = previous is not null && previous.Config.Etcd.SameAs(config.Etcd);
        var discovery = config.Clusters.Values.Any(c => c.DestinationsFrom is not null)
            ? new EtcdDestinationDiscovery(config.Etcd, (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<EtcdDestinationDiscovery>())
            : null;
        var clusters = new Dictionary<string, ClusterState>(StringComparer.Ordinal);
        var reused = new HashSet<ClusterState>();
        foreach (var (name, cluster) in config.Clusters)
        {
            if (previous is not null && (sameDns || options.HostResolver is not null) && (sameEtcd || cluster.DestinationsFrom is null)
                && previous.Clusters.TryGetValue(name, out var kept) && ClusterConfigs.Equal(kept.Config, cluster))
            {
                clusters[name] = kept;
                reused.Add(kept);
                continue;
            }

            clusters[name] = new ClusterState(name, cluster, options.TimeProvider, Resolver, observer, discovery);
            if (!cluster.Tls.Verify && cluster.Destinations.Any(d => d.UseTls))
            {
                eventLog.TlsVerificationOff(name);
            }
        }

        Clusters = clusters;
        Reused = reused;
        Routes = new RouteTable(config.Routes, clusters, previous?.Routes, config.Downstream, options.TimeProvider);
        Connections = new ConnectionPolicy(config.Downstream, options.TimeProvider);
    }

    public TetherConfig Config { get; }

    /// <summary>What the clusters resolve their host names and srv:// names with.</summary>
    public IHostResolver Resolver { get; }

    public IReadOnlyDictionary<string, ClusterState> Clusters { get; }

    /// <summary>Clusters taken over unchanged from the model this one was built after.</summary>
    public IReadOnlySet<ClusterState> Reused { get; }

    public RouteTable Routes { get; }

    /// <summary>When a client connection stops being kept alive (requests, lifetime with jitter).</summary>
    public ConnectionPolicy Connections { get; }

    public void Sweep()
    {
        foreach (var cluster in Clusters.Values)
        {
            cluster.Sweep();
        }
    }

    /// <summary>Closes every cluster of this model (at shutdown; a reload retires only those the next model did not keep).</summary>
    public void Dispose()
    {
        foreach (var cluster in Clusters.Values)
        {
            cluster.Dispose();
        }
    }
}
