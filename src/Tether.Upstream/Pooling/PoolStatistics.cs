namespace Tether.Upstream.Pooling;

/// <summary>Counters of one pool. Written with Interlocked, read racily for reporting.</summary>
public sealed class PoolStatistics
{
    private static readonly int s_reasonCount = Enum.GetValues<ConnectionCloseReason>().Length;
    private readonly long[] _closed = new long[s_reasonCount];
    private long _created;
    private long _reused;
    private long _connectFailures;
    private long _queueTimeouts;

    public long Created => Volatile.Read(ref _created);

    public long Reused => Volatile.Read(ref _reused);

    public long ConnectFailures => Volatile.Read(ref _connectFailures);

    public long QueueTimeouts => Volatile.Read(ref _queueTimeouts);

    public long Closed(ConnectionCloseReason reason) => Volatile.Read(ref _closed[(int)reason]);

    /// <summary>How long each reused connection had been idle when a request took it: how close reuse comes to
    /// the backend's idle timeout.</summary>
    public DurationHistogram IdleAgeAtReuse { get; } = new();

    /// <summary>How long each connection found closed by the backend (FIN or RST while idle) had been idle when it
    /// was found, by the probe before reuse or by the sweep (within its interval of the close): the backend's
    /// real idle timeout shows as the smallest values.</summary>
    public DurationHistogram IdleAgeAtPeerClose { get; } = new();

    public long ClosedTotal
    {
        get
        {
            long sum = 0;
            for (var i = 0; i < _closed.Length; i++)
            {
                sum += Volatile.Read(ref _closed[i]);
            }

            return sum;
        }
    }

    internal void OnCreated() => Interlocked.Increment(ref _created);

    internal void OnReused() => Interlocked.Increment(ref _reused);

    internal void OnConnectFailed() => Interlocked.Increment(ref _connectFailures);

    internal void OnQueueTimeout() => Interlocked.Increment(ref _queueTimeouts);

    internal void OnClosed(ConnectionCloseReason reason) => Interlocked.Increment(ref _closed[(int)reason]);
}
