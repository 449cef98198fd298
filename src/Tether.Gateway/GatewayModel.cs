using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tether.Configuration;
using Tether.Gateway.Health;
using Tether.Gateway.Routing;
using Tether.Upstream.Destinations;

namespace Tether.Gateway;

/// <summary>
/// The immutable runtime snapshot built from one config: routes and clusters (with their pools). A reload
/// builds a new model and swaps it whole; requests keep the model they started with.
/// </summary>
internal sealed class GatewayModel : IDisposable
{
    public GatewayModel(TetherConfig config, TimeProvider timeProvider)
        : this(config, new GatewayOptions { TimeProvider = timeProvider })
    {
    }

    /// <summary>Builds the clusters, which start their health probes and DNS refreshes; <see cref="Dispose"/> stops them.</summary>
    public GatewayModel(TetherConfig config, GatewayOptions options)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        Config = config;
        var observer = new ClusterEventLog((options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ClusterEventLog>());
        var clusters = new Dictionary<string, ClusterState>(StringComparer.Ordinal);
        foreach (var (name, cluster) in config.Clusters)
        {
            clusters[name] = new ClusterState(name, cluster, options.TimeProvider, options.HostResolver, observer);
        }

        Clusters = clusters;
        Routes = new RouteTable(config.Routes, clusters);
    }

    public TetherConfig Config { get; }

    public IReadOnlyDictionary<string, ClusterState> Clusters { get; }

    public RouteTable Routes { get; }

    public void Sweep()
    {
        foreach (var cluster in Clusters.Values)
        {
            cluster.Sweep();
        }
    }

    public void Dispose()
    {
        foreach (var cluster in Clusters.Values)
        {
            cluster.Dispose();
        }
    }
}
