using Tether.Configuration;
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
    {
        Config = config;
        var clusters = new Dictionary<string, ClusterState>(StringComparer.Ordinal);
        foreach (var (name, cluster) in config.Clusters)
        {
            clusters[name] = new ClusterState(name, cluster, timeProvider);
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
