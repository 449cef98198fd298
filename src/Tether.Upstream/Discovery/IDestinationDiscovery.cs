using Tether.Upstream.Destinations;

namespace Tether.Upstream.Discovery;

/// <summary>
/// A source of a cluster's destinations other than its config (clusters.&lt;name&gt;.destinationsFrom): started with
/// the cluster, it calls <see cref="ClusterState.ApplyDiscovered"/> with every new list; disposing it stops it.
/// </summary>
public interface IDestinationDiscovery
{
    IDisposable Start(ClusterState cluster);
}
