using Tether.Upstream.Connecting;

namespace Tether.Upstream.Pooling;

/// <summary>
/// A pool of connections to one destination, knowing nothing of HTTP (after Pingora's pingora-pool).
/// Idle connections are reused last-in first-out, so a light load keeps few connections warm and the
/// rest age out.
/// </summary>
/// <remarks>
/// Races, and where each is handled:
/// <list type="bullet">
/// <item>The backend closes an idle connection while it sits in the pool: caught by <see cref="IPooledConnection.ProbeBeforeUse"/>
/// on the way out (FIN/RST makes the socket readable); if the FIN arrives after the probe, the request fails before
/// any response byte and the forwarder's safe retry takes a fresh connection.</item>
/// <item>The sweeper expires a connection while a request picks it: both happen under <see cref="_lock"/>, and a
/// connection is either in <see cref="_idle"/> or held by exactly one party.</item>
/// <item>A waiter times out while a connection is being handed to it: the hand-over is TrySetResult, the timeout is
/// TrySetCanceled; whoever loses gives the connection back.</item>
/// </list>
/// </remarks>
public sealed class ConnectionPool<TConnection> : IDisposable
    where TConnection : class, IPooledConnection
{
    private readonly Func<ConnectData, CancellationToken, ValueTask<TConnection>> _connect;
    private readonly TimeProvider _timeProvider;
    private readonly object _lock = new();

    // Idle connections, oldest first; the end is the most recently returned. Invariant: every entry is open and
    // held by nobody. Count <= MaxIdle, except for connections returned above it while ExcessIdleTimeout is on:
    // those are the oldest entries, and the sweep closes them once they have been idle that long.
    // How many of the most recently returned idle connections PickIdle looks through for one on this thread.
    private const int AffinityScan = 8;

    private readonly List<TConnection> _idle = [];

    // Requests waiting for capacity, first come first served. A result of null means "a slot is reserved for
    // you: connect"; a connection means "take this one". Guarded by _lock.
    private readonly LinkedList<TaskCompletionSource<TConnection?>> _waiters = new();

    // Connections counted against MaxConnections: idle + held + being connected. Guarded by _lock.
    private int _open;

    // Connections held by requests right now. Guarded by _lock.
    private int _leased;

    private bool _disposed;

    // Idle-timeout learning (PoolOptions.LearnIdleTimeout). Guarded by _lock, except the learned value, which
    // Release reads without it.
    private const int SelectiveClosesToLearn = 3;
    private long _lastSweepTimestamp;
    private int _selectiveCloses;
    private TimeSpan _smallestSelectiveCloseAge = TimeSpan.MaxValue;
    private long _learnedIdleTimeoutTicks;

    public ConnectionPool(PoolOptions options, Func<CancellationToken, ValueTask<TConnection>> connect, TimeProvider? timeProvider = null)
        : this(options, (_, ct) => connect(ct), timeProvider)
    {
    }

    /// <param name="connect">Opens a connection with what the acquiring request brings (<see cref="ConnectData"/>).</param>
    public ConnectionPool(PoolOptions options, Func<ConnectData, CancellationToken, ValueTask<TConnection>> connect, TimeProvider? timeProvider = null)
    {
        Options = options;
        _connect = connect;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    public PoolOptions Options { get; }

    public PoolStatistics Statistics { get; } = new();

    /// <summary>
    /// The idle timeout learned from the backend, or null. A sweep that finds the oldest idle connections closed
    /// by the backend while younger ones are still open has seen an idle timeout at work (a restart or a crash
    /// closes them all, whatever their age, and teaches nothing). After <c>3</c> such sweeps, idle connections are
    /// given up at the smallest idle age at which one was found closed, minus the time between sweeps (it was
    /// found up to a sweep after the close) and a margin of a quarter of that age, at most a second. It only
    /// ever decreases, until the pool is rebuilt (a reload that changes the cluster, or a restart).
    /// </summary>
    public TimeSpan? LearnedIdleTimeout => Volatile.Read(ref _learnedIdleTimeoutTicks) is > 0 and var t ? TimeSpan.FromTicks(t) : null;

    public int IdleCount
    {
        get
        {
            lock (_lock)
            {
                return _idle.Count;
            }
        }
    }

    public int LeasedCount
    {
        get
        {
            lock (_lock)
            {
                return _leased;
            }
        }
    }

    public int WaitingCount
    {
        get
        {
            lock (_lock)
            {
                return _waiters.Count;
            }
        }
    }

    /// <summary>
    /// Gets a connection: the most recent usable idle one, else a new one, else waits in the queue.
    /// With <paramref name="requireNew"/> idle connections are skipped (the safe retry after a reused one failed).
    /// </summary>
    /// <exception cref="PoolExhaustedException">At the cap and the queue is full or the wait timed out.</exception>
    public ValueTask<PooledLease<TConnection>> AcquireAsync(bool requireNew, CancellationToken cancellationToken) =>
        AcquireAsync(requireNew, default, cancellationToken);

    /// <param name="data">Passed to the connect function if a new connection is opened for this request.</param>
    public ValueTask<PooledLease<TConnection>> AcquireAsync(bool requireNew, ConnectData data, CancellationToken cancellationToken) =>
        AcquireAsync(requireNew, data, _timeProvider.GetTimestamp(), cancellationToken);

    /// <param name="data">Passed to the connect function if a new connection is opened for this request.</param>
    /// <param name="now">The pool's time provider's timestamp, read by a caller that already has it (the request's
    /// start): an idle connection's age is judged at it.</param>
    public ValueTask<PooledLease<TConnection>> AcquireAsync(bool requireNew, ConnectData data, long now, CancellationToken cancellationToken)
    {
        while (true)
        {
            TConnection? candidate = null;
            lock (_lock)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (!requireNew && _idle.Count > 0)
                {
                    var index = PickIdle();
                    candidate = _idle[index];
                    _idle.RemoveAt(index);
                    _leased++;
                }
                else if (Options.MaxConnections <= 0 || _open < Options.MaxConnections)
                {
                    _open++;
                    _leased++;
                }
                else
                {
                    return WaitAsync(data, cancellationToken);
                }
            }

            if (candidate is null)
            {
                return ConnectReservedAsync(data, cancellationToken);
            }

            // Outside the lock: the probe is a syscall (for a cleartext Http1Connection, the response's first receive).
            var reason = candidate.Lifetime.CheckUsable(now) ?? candidate.ProbeBeforeUse();
            var idleAge = _timeProvider.GetElapsedTime(candidate.Lifetime.IdleSinceTimestamp, now);
            if (reason is null)
            {
                Statistics.OnReused();
                Statistics.IdleAgeAtReuse.Record(idleAge);
                return ValueTask.FromResult(new PooledLease<TConnection>(candidate, Reused: true));
            }

            if (reason == ConnectionCloseReason.PeerClosed)
            {
                Statistics.IdleAgeAtPeerClose.Record(idleAge);
            }

            Discard(candidate, reason.Value, wasLeased: true);
        }
    }

    // Called under _lock. The most recently returned connection (LIFO), unless one of the last few is homed on the
    // calling thread (PreferHomeThread): with inline socket completions, a request whose backend connection completes
    // on the same socket-engine thread as its client connection runs start to end on one thread, with no hand-off.
    // Without them LIFO alone: the most recent connection is the one whose server side is still awake (client-bench,
    // Tether.Client with the scan: 0.93-0.94x SocketsHttpHandler's requests/s; LIFO alone: 0.97-0.98x).
    private int PickIdle()
    {
        var last = _idle.Count - 1;
        if (!Options.PreferHomeThread)
        {
            return last;
        }

        var self = Environment.CurrentManagedThreadId;
        for (var i = last; i >= 0 && i > last - AffinityScan; i--)
        {
            if (_idle[i].HomeThreadId == self)
            {
                return i;
            }
        }

        return last;
    }

    /// <summary>
    /// Gives a connection back. With a <paramref name="closeReason"/> it is closed; otherwise it goes to a waiter,
    /// or idle if there is room (or while <see cref="PoolOptions.ExcessIdleTimeout"/> lets it wait above the cap),
    /// or is closed as <see cref="ConnectionCloseReason.PoolFull"/>.
    /// </summary>
    public void Release(TConnection connection, ConnectionCloseReason? closeReason)
    {
        if (LearnedIdleTimeout is { } learned)
        {
            connection.Lifetime.LowerIdleTimeout(learned);
        }

        // One clock read for the usability check and the idle-since stamp.
        var now = closeReason is null ? _timeProvider.GetTimestamp() : 0;
        var reason = closeReason ?? connection.Lifetime.CheckUsable(now);
        if (reason is null)
        {
            connection.Lifetime.OnReturnedIdle(now);
            lock (_lock)
            {
                if (!_disposed)
                {
                    while (_waiters.First is { } node)
                    {
                        _waiters.RemoveFirst();
                        if (node.Value.TrySetResult(connection))
                        {
                            // Still leased: it changes hands without passing through idle.
                            Statistics.OnReused();
                            return;
                        }
                    }

                    if (_idle.Count < Options.MaxIdle || (Options.MaxIdle > 0 && Options.ExcessIdleTimeout > TimeSpan.Zero))
                    {
                        _leased--;
                        _idle.Add(connection);
                        return;
                    }
                }
            }

            reason = _disposed ? ConnectionCloseReason.Shutdown : ConnectionCloseReason.PoolFull;
        }

        Discard(connection, reason.Value, wasLeased: true);
    }

    /// <summary>
    /// Closes idle connections that have expired or that the backend closed, and those above <see cref="PoolOptions.MaxIdle"/> that have been idle
    /// for <see cref="PoolOptions.ExcessIdleTimeout"/> (oldest first). Returns how many. Called by a timer and by tests.
    /// </summary>
    public int Sweep()
    {
        List<(TConnection Connection, ConnectionCloseReason Reason)>? expired = null;
        lock (_lock)
        {
            // Probed here too (a poll() each, under the lock: nothing else may touch an idle connection), so a
            // connection the backend closed is let go within a sweep interval, not when a request next finds it.
            var now = _timeProvider.GetTimestamp();
            var youngestClosed = TimeSpan.MaxValue;
            var oldestOpen = TimeSpan.MinValue;
            var kept = 0;
            for (var i = 0; i < _idle.Count; i++)
            {
                var c = _idle[i];
                var age = _timeProvider.GetElapsedTime(c.Lifetime.IdleSinceTimestamp, now);
                if ((c.Lifetime.CheckUsable(now) ?? c.ProbeIdle()) is { } reason)
                {
                    if (reason == ConnectionCloseReason.PeerClosed)
                    {
                        Statistics.IdleAgeAtPeerClose.Record(age);
                        youngestClosed = age < youngestClosed ? age : youngestClosed;
                    }

                    (expired ??= []).Add((c, reason));
                }
                else
                {
                    oldestOpen = age > oldestOpen ? age : oldestOpen;
                    _idle[kept++] = c;
                }
            }

            _idle.RemoveRange(kept, _idle.Count - kept);
            if (Options.LearnIdleTimeout)
            {
                Learn(youngestClosed, oldestOpen, now);
            }

            // The list is in return order, so the excess to close is a prefix of it, up to the first connection
            // returned less than ExcessIdleTimeout ago.
            var trim = 0;
            while (trim < _idle.Count - Options.MaxIdle
                && _timeProvider.GetElapsedTime(_idle[trim].Lifetime.IdleSinceTimestamp) >= Options.ExcessIdleTimeout)
            {
                (expired ??= []).Add((_idle[trim], ConnectionCloseReason.PoolFull));
                trim++;
            }

            _idle.RemoveRange(0, trim);
        }

        if (expired is null)
        {
            return 0;
        }

        foreach (var (c, reason) in expired)
        {
            Discard(c, reason, wasLeased: false);
        }

        return expired.Count;
    }

    // Called under _lock by Sweep. Closes were selective when every connection found closed by the backend was older
    // than every one still open (and some were still open); see LearnedIdleTimeout.
    private void Learn(TimeSpan youngestClosed, TimeSpan oldestOpen, long now)
    {
        var sinceLastSweep = _lastSweepTimestamp == 0 ? TimeSpan.Zero : _timeProvider.GetElapsedTime(_lastSweepTimestamp, now);
        _lastSweepTimestamp = now;
        if (youngestClosed == TimeSpan.MaxValue || oldestOpen == TimeSpan.MinValue || oldestOpen >= youngestClosed || sinceLastSweep == TimeSpan.Zero)
        {
            return;
        }

        _selectiveCloses++;
        if (youngestClosed < _smallestSelectiveCloseAge)
        {
            _smallestSelectiveCloseAge = youngestClosed;
        }

        var margin = TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, _smallestSelectiveCloseAge.Ticks / 4));
        var learned = _smallestSelectiveCloseAge - sinceLastSweep - margin;
        if (_selectiveCloses >= SelectiveClosesToLearn && learned > TimeSpan.Zero
            && (LearnedIdleTimeout is not { } current || learned < current))
        {
            Volatile.Write(ref _learnedIdleTimeoutTicks, learned.Ticks);
            foreach (var c in _idle)
            {
                c.Lifetime.LowerIdleTimeout(learned);
            }
        }
    }

    /// <summary>Closes every idle connection and refuses new acquisitions; held connections close on return.</summary>
    public void Dispose()
    {
        TConnection[] idle;
        TaskCompletionSource<TConnection?>[] waiters;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            idle = [.. _idle];
            _idle.Clear();
            waiters = [.. _waiters];
            _waiters.Clear();
        }

        foreach (var w in waiters)
        {
            w.TrySetException(new ObjectDisposedException(nameof(ConnectionPool<TConnection>)));
        }

        foreach (var c in idle)
        {
            Discard(c, ConnectionCloseReason.Shutdown, wasLeased: false);
        }
    }

    private void Discard(TConnection connection, ConnectionCloseReason reason, bool wasLeased)
    {
        connection.Close(reason);
        Statistics.OnClosed(reason);
        FreeSlot(wasLeased);
    }

    // A connection stopped counting against the cap: pass its slot to the first live waiter, who connects.
    private void FreeSlot(bool wasLeased)
    {
        lock (_lock)
        {
            if (wasLeased)
            {
                _leased--;
            }

            while (_waiters.First is { } node)
            {
                _waiters.RemoveFirst();
                if (node.Value.TrySetResult(null))
                {
                    // The slot and the lease move to the waiter.
                    _leased++;
                    return;
                }
            }

            _open--;
        }
    }

    private async ValueTask<PooledLease<TConnection>> ConnectReservedAsync(ConnectData data, CancellationToken cancellationToken)
    {
        TConnection connection;
        try
        {
            connection = await _connect(data, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // A caller that went away mid-connect (its client aborted) says nothing about the destination.
            if (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Statistics.OnConnectFailed();
            }

            FreeSlot(wasLeased: true);
            throw;
        }

        Statistics.OnCreated();
        return new PooledLease<TConnection>(connection, Reused: false);
    }

    // Called under _lock.
    private ValueTask<PooledLease<TConnection>> WaitAsync(ConnectData data, CancellationToken cancellationToken)
    {
        if (Options.MaxQueue > 0 && _waiters.Count >= Options.MaxQueue)
        {
            Statistics.OnQueueTimeout();
            throw new PoolExhaustedException($"all {Options.MaxConnections} connections busy and {_waiters.Count} requests already queued (maxQueue)");
        }

        var waiter = new TaskCompletionSource<TConnection?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var node = _waiters.AddLast(waiter);
        return AwaitWaiterAsync(waiter, node, data, cancellationToken);
    }

    private async ValueTask<PooledLease<TConnection>> AwaitWaiterAsync(
        TaskCompletionSource<TConnection?> waiter, LinkedListNode<TaskCompletionSource<TConnection?>> node, ConnectData data, CancellationToken cancellationToken)
    {
        TConnection? handed;
        try
        {
            handed = await waiter.Task.WaitAsync(Options.QueueTimeout, _timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            lock (_lock)
            {
                if (node.List is not null)
                {
                    _waiters.Remove(node);
                }
            }

            // Lost the race: a connection or a slot was handed over as we gave up. Give it back.
            if (!waiter.TrySetCanceled(CancellationToken.None) && waiter.Task.IsCompletedSuccessfully)
            {
                if (waiter.Task.Result is { } late)
                {
                    Release(late, null);
                }
                else
                {
                    FreeSlot(wasLeased: true);
                }
            }

            if (ex is TimeoutException)
            {
                Statistics.OnQueueTimeout();
                throw new PoolExhaustedException($"no connection free within queueTimeout {Options.QueueTimeout.TotalMilliseconds:0}ms (maxConnections {Options.MaxConnections})");
            }

            throw;
        }

        if (handed is not null)
        {
            return new PooledLease<TConnection>(handed, Reused: true);
        }

        return await ConnectReservedAsync(data, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>A connection taken from the pool, and whether it had carried a request before.</summary>
public readonly record struct PooledLease<TConnection>(TConnection Connection, bool Reused);
