using Tether.Upstream.Destinations;

namespace Tether.Gateway.Draining;

/// <summary>Passes cluster events on, and starts recycling when DNS changes a cluster's destinations.</summary>
internal sealed class RecyclingObserver(IClusterObserver inner, Recycler recycler) : IClusterObserver
{
    public void Ejected(string cluster, string destination, int failures, TimeSpan duration, int ejections) =>
        inner.Ejected(cluster, destination, failures, duration, ejections);

    public void ProbeStateChanged(string cluster, string destination, bool healthy, string detail) =>
        inner.ProbeStateChanged(cluster, destination, healthy, detail);

    public void DestinationsChanged(string cluster, string host, int added, int drained, int total, bool firstAnswer)
    {
        inner.DestinationsChanged(cluster, host, added, drained, total, firstAnswer);

        // The first answer only replaces the name by its addresses: no client connection is unbalanced by it.
        if (firstAnswer)
        {
            return;
        }

        // Same measure as a reload: changed addresses over the larger of the old and new sets.
        var before = total - added + drained;
        var size = Math.Max(before, total);
        if (size > 0)
        {
            recycler.Trigger((double)(added + drained) / size, $"cluster {cluster}: DNS for {host} changed");
        }
    }

    public void ResolveFailed(string cluster, string host, string error) =>
        inner.ResolveFailed(cluster, host, error);

    public void IdleTimeoutLearned(string cluster, string destination, TimeSpan learned, TimeSpan? smallestClose) =>
        inner.IdleTimeoutLearned(cluster, destination, learned, smallestClose);
}
