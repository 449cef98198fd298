using Tether.Upstream.Destinations;

namespace Tether.Gateway.Reload;

/// <summary>
/// Clusters a reload replaced or removed, kept until their requests are done. Each goes through the same
/// drain as a destination DNS no longer lists (<see cref="DestinationState.BeginDrain"/>, then
/// <see cref="DestinationState.TryFinishDrain"/> from the sweeper): no new request enters, requests in flight
/// finish on their pooled connections, and the pools close once nothing is in flight.
/// </summary>
internal sealed class RetiredClusters(TimeProvider timeProvider, TimeSpan grace)
{
    // Guarded by itself. A handful of entries at most, for seconds.
    private readonly List<Entry> _entries = [];

    public int Count
    {
        get
        {
            lock (_entries)
            {
                return _entries.Count;
            }
        }
    }

    public void Add(ClusterState cluster)
    {
        lock (_entries)
        {
            _entries.Add(new Entry(cluster, timeProvider.GetTimestamp()));
        }
    }

    /// <summary>
    /// Starts the drain of clusters retired at least the grace ago, and disposes those whose destinations
    /// have all finished. The grace covers a request that read the old model just before the swap and has
    /// not yet entered its destination: draining at once would turn it into a 503 although nothing failed.
    /// </summary>
    public void Sweep()
    {
        lock (_entries)
        {
            _entries.RemoveAll(e => e.TrySweep(timeProvider, grace));
        }
    }

    /// <summary>Closes every retired cluster now (shutdown: the listeners are already stopped).</summary>
    public void DisposeAll()
    {
        lock (_entries)
        {
            foreach (var e in _entries)
            {
                e.Cluster.Dispose();
            }

            _entries.Clear();
        }
    }

    private sealed class Entry(ClusterState cluster, long retiredAt)
    {
        private bool _draining;

        public ClusterState Cluster { get; } = cluster;

        // True once the cluster is closed and can be forgotten.
        public bool TrySweep(TimeProvider timeProvider, TimeSpan grace)
        {
            Cluster.Sweep();
            if (!_draining)
            {
                if (timeProvider.GetElapsedTime(retiredAt) < grace)
                {
                    return false;
                }

                _draining = true;
                foreach (var d in Cluster.Destinations)
                {
                    d.BeginDrain();
                }
            }

            var done = Cluster.Draining.Count == 0;
            foreach (var d in Cluster.Destinations)
            {
                done &= d.TryFinishDrain();
            }

            if (done)
            {
                // Stops its probes and DNS refreshes; the pools are closed already.
                Cluster.Dispose();
            }

            return done;
        }
    }
}
