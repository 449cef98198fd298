using Tether.Upstream.Pooling;
using Tether.Testing;

namespace Tether.Upstream.Tests.Pooling;

public sealed class ConnectionPoolTests
{
    private readonly ManualTimeProvider _time = new();
    private int _created;

    private sealed class TestConnection(ConnectionLifetime lifetime, int id) : IPooledConnection
    {
        public int Id { get; } = id;

        public ConnectionLifetime Lifetime { get; } = lifetime;

        public ConnectionCloseReason? PeerState { get; set; }

        public int HomeThreadId { get; set; }

        public ConnectionCloseReason? ClosedWith { get; private set; }

        public ConnectionCloseReason? ProbeIdle() => PeerState;

        public void Close(ConnectionCloseReason reason) => ClosedWith ??= reason;
    }

    private ConnectionPool<TestConnection> CreatePool(
        PoolOptions? options = null, TimeSpan? idleTimeout = null, TimeSpan? maxLifetime = null, int maxRequests = 0, Func<Exception?>? fail = null) =>
        new(options ?? new PoolOptions(), _ =>
        {
            if (fail?.Invoke() is { } ex)
            {
                throw ex;
            }

            var lifetime = new ConnectionLifetime(_time, idleTimeout ?? TimeSpan.FromSeconds(60), maxLifetime, maxRequests);
            return ValueTask.FromResult(new TestConnection(lifetime, Interlocked.Increment(ref _created)));
        }, _time);

    private static async Task<TestConnection> UseOnce(ConnectionPool<TestConnection> pool, bool requireNew = false)
    {
        var lease = await pool.AcquireAsync(requireNew, CancellationToken.None);
        lease.Connection.Lifetime.OnRequestStarted();
        pool.Release(lease.Connection, null);
        return lease.Connection;
    }

    [Fact]
    public async Task Sequential_requests_reuse_one_connection()
    {
        using var pool = CreatePool();
        var first = await UseOnce(pool);
        for (var i = 0; i < 99; i++)
        {
            Assert.Same(first, await UseOnce(pool));
        }

        Assert.Equal(1, pool.Statistics.Created);
        Assert.Equal(99, pool.Statistics.Reused);
        Assert.Equal(1, pool.IdleCount);
    }

    [Fact]
    public async Task Reuse_prefers_a_recent_idle_connection_homed_on_the_calling_thread()
    {
        using var pool = CreatePool(new PoolOptions { PreferHomeThread = true });
        var connections = await ReturnFourWithOnlyTheSecondHomedHere(pool);

        // LIFO alone would give #3.
        Assert.Same(connections[1], (await pool.AcquireAsync(false, default)).Connection);

        // None left on this thread: back to last in, first out.
        Assert.Same(connections[3], (await pool.AcquireAsync(false, default)).Connection);
    }

    [Fact]
    public async Task Without_PreferHomeThread_reuse_is_last_in_first_out_whatever_the_home_threads()
    {
        using var pool = CreatePool();
        var connections = await ReturnFourWithOnlyTheSecondHomedHere(pool);
        Assert.Same(connections[3], (await pool.AcquireAsync(false, default)).Connection);
    }

    // Four connections returned in order 0..3, only #1 homed on the calling thread.
    private static async Task<TestConnection[]> ReturnFourWithOnlyTheSecondHomedHere(ConnectionPool<TestConnection> pool)
    {
        var connections = new TestConnection[4];
        for (var i = 0; i < connections.Length; i++)
        {
            connections[i] = (await pool.AcquireAsync(false, default)).Connection;
        }

        var self = Environment.CurrentManagedThreadId;
        for (var i = 0; i < connections.Length; i++)
        {
            connections[i].HomeThreadId = i == 1 ? self : self + 1000;
            pool.Release(connections[i], null);
        }

        return connections;
    }

    [Fact]
    public async Task Reuse_is_last_in_first_out()
    {
        using var pool = CreatePool();
        var a = await pool.AcquireAsync(false, default);
        var b = await pool.AcquireAsync(false, default);
        pool.Release(a.Connection, null);
        pool.Release(b.Connection, null);
        var next = await pool.AcquireAsync(false, default);
        Assert.Same(b.Connection, next.Connection);
        Assert.True(next.Reused);
    }

    [Fact]
    public async Task Idle_cap_closes_connections_returned_beyond_it()
    {
        using var pool = CreatePool(new PoolOptions { MaxIdle = 2 });
        var leases = new List<PooledLease<TestConnection>>();
        for (var i = 0; i < 5; i++)
        {
            leases.Add(await pool.AcquireAsync(false, default));
        }

        foreach (var lease in leases)
        {
            pool.Release(lease.Connection, null);
        }

        Assert.Equal(2, pool.IdleCount);
        Assert.Equal(3, pool.Statistics.Closed(ConnectionCloseReason.PoolFull));
        Assert.Equal(ConnectionCloseReason.PoolFull, leases[4].Connection.ClosedWith);
        Assert.Null(leases[0].Connection.ClosedWith);
    }

    [Fact]
    public async Task Connections_returned_above_the_cap_wait_the_excess_timeout_then_the_oldest_close()
    {
        using var pool = CreatePool(new PoolOptions { MaxIdle = 2, ExcessIdleTimeout = TimeSpan.FromSeconds(2) });
        var leases = new List<PooledLease<TestConnection>>();
        for (var i = 0; i < 5; i++)
        {
            leases.Add(await pool.AcquireAsync(false, default));
        }

        // A burst of five above a cap of two: all five stay idle, none closed on return.
        pool.Release(leases[0].Connection, null);
        pool.Release(leases[1].Connection, null);
        _time.Advance(TimeSpan.FromSeconds(1));
        pool.Release(leases[2].Connection, null);
        pool.Release(leases[3].Connection, null);
        pool.Release(leases[4].Connection, null);
        Assert.Equal(5, pool.IdleCount);
        Assert.Equal(0, pool.Statistics.Closed(ConnectionCloseReason.PoolFull));

        // A tick before the first two have waited 2 s: nothing closes.
        _time.Advance(TimeSpan.FromSeconds(1) - TimeSpan.FromTicks(1));
        Assert.Equal(0, pool.Sweep());

        // At 2 s the two returned first close; the three returned later are younger and wait.
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(2, pool.Sweep());
        Assert.Equal(ConnectionCloseReason.PoolFull, leases[0].Connection.ClosedWith);
        Assert.Equal(ConnectionCloseReason.PoolFull, leases[1].Connection.ClosedWith);
        Assert.Equal(3, pool.IdleCount);

        // A second later the oldest of the rest goes, down to the cap and no further.
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, pool.Sweep());
        Assert.Equal(ConnectionCloseReason.PoolFull, leases[2].Connection.ClosedWith);
        Assert.Equal(2, pool.IdleCount);
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(0, pool.Sweep());
        Assert.Null(leases[3].Connection.ClosedWith);
        Assert.Null(leases[4].Connection.ClosedWith);
        Assert.Equal(3, pool.Statistics.Closed(ConnectionCloseReason.PoolFull));
    }

    [Fact]
    public async Task A_burst_above_the_cap_within_the_excess_timeout_reuses_instead_of_connecting()
    {
        using var pool = CreatePool(new PoolOptions { MaxIdle = 1, ExcessIdleTimeout = TimeSpan.FromSeconds(2) });
        var first = new[] { await pool.AcquireAsync(false, default), await pool.AcquireAsync(false, default), await pool.AcquireAsync(false, default) };
        foreach (var lease in first)
        {
            pool.Release(lease.Connection, null);
        }

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, pool.Sweep());
        var second = new[] { await pool.AcquireAsync(false, default), await pool.AcquireAsync(false, default), await pool.AcquireAsync(false, default) };
        Assert.All(second, lease => Assert.True(lease.Reused));
        Assert.Equal(3, pool.Statistics.Created);
    }

    [Fact]
    public async Task Max_idle_zero_means_no_keep_alive_even_with_an_excess_timeout()
    {
        using var pool = CreatePool(new PoolOptions { MaxIdle = 0, ExcessIdleTimeout = TimeSpan.FromSeconds(2) });
        var a = await UseOnce(pool);
        Assert.Equal(ConnectionCloseReason.PoolFull, a.ClosedWith);
        Assert.Equal(0, pool.IdleCount);
    }

    [Fact]
    public async Task Idle_age_at_reuse_is_recorded()
    {
        using var pool = CreatePool();
        await UseOnce(pool);
        _time.Advance(TimeSpan.FromSeconds(3));
        await UseOnce(pool);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        await UseOnce(pool);

        var reuse = pool.Statistics.IdleAgeAtReuse;
        Assert.Equal(2, reuse.Count);
        Assert.Equal(TimeSpan.FromMilliseconds(1), reuse.Min);
        Assert.Equal(TimeSpan.FromMilliseconds(3001), reuse.Sum);
        Assert.Equal(1, reuse.BucketCount(0)); // <= 1 ms
        Assert.Equal(1, reuse.BucketCount(6)); // 2 s < age <= 5 s
        Assert.Equal(0, pool.Statistics.IdleAgeAtPeerClose.Count);
    }

    [Fact]
    public async Task A_backend_close_found_before_reuse_records_the_idle_age()
    {
        using var pool = CreatePool();
        var first = await UseOnce(pool);
        _time.Advance(TimeSpan.FromSeconds(7));
        first.PeerState = ConnectionCloseReason.PeerClosed;

        var second = await UseOnce(pool);
        Assert.NotSame(first, second);
        Assert.Equal(ConnectionCloseReason.PeerClosed, first.ClosedWith);
        Assert.Equal(1, pool.Statistics.IdleAgeAtPeerClose.Count);
        Assert.Equal(TimeSpan.FromSeconds(7), pool.Statistics.IdleAgeAtPeerClose.Min);
        Assert.Equal(0, pool.Statistics.IdleAgeAtReuse.Count);
    }

    [Fact]
    public async Task The_sweep_lets_go_of_a_connection_the_backend_closed_and_records_its_idle_age()
    {
        using var pool = CreatePool();
        var closed = await pool.AcquireAsync(false, default);
        var alive = await pool.AcquireAsync(false, default);
        pool.Release(closed.Connection, null);
        pool.Release(alive.Connection, null);
        _time.Advance(TimeSpan.FromSeconds(2));
        closed.Connection.PeerState = ConnectionCloseReason.PeerClosed;

        Assert.Equal(1, pool.Sweep());
        Assert.Equal(ConnectionCloseReason.PeerClosed, closed.Connection.ClosedWith);
        Assert.Null(alive.Connection.ClosedWith);
        Assert.Equal(1, pool.IdleCount);
        Assert.Equal(TimeSpan.FromSeconds(2), pool.Statistics.IdleAgeAtPeerClose.Min);
        Assert.Equal(1, pool.Statistics.Closed(ConnectionCloseReason.PeerClosed));
    }

    // Three idle connections returned 1 s apart; each sweep, the backend has closed the oldest one still open.
    private async Task<List<TestConnection>> StaggeredIdle(ConnectionPool<TestConnection> pool, int count)
    {
        var leases = new List<PooledLease<TestConnection>>();
        for (var i = 0; i < count; i++)
        {
            leases.Add(await pool.AcquireAsync(false, default));
        }

        foreach (var lease in leases)
        {
            pool.Release(lease.Connection, null);
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        return [.. leases.Select(l => l.Connection)];
    }

    [Fact]
    public async Task A_close_found_long_after_the_sweep_before_cannot_be_bounded_and_teaches_nothing()
    {
        using var pool = CreatePool(new PoolOptions { LearnIdleTimeout = true });
        pool.Sweep(); // the first sweep only marks the time
        var learnedAfter = new List<TimeSpan?>();
        for (var round = 0; round < 3; round++)
        {
            // Idle ages 6 s, 5 s, 4 s at the sweep; the backend (idle timeout 5.5 s) has closed the 6 s one.
            var connections = await StaggeredIdle(pool, 3);
            _time.Advance(TimeSpan.FromSeconds(3));
            connections[0].PeerState = ConnectionCloseReason.PeerClosed;
            Assert.Equal(1, pool.Sweep());
            learnedAfter.Add(pool.LearnedIdleTimeout);
            foreach (var c in connections.Skip(1))
            {
                c.PeerState = ConnectionCloseReason.PeerClosed; // clear the pool for the next round
            }

            pool.Sweep();
        }

        // Three selective closes, each found 6 s idle but 6 s after the sweep before: the backend may have closed it
        // at any idle age from 0 to 6 s, so there is no positive timeout to learn.
        Assert.Null(learnedAfter[0]);
        Assert.Null(learnedAfter[1]);
        Assert.Null(learnedAfter[2]);
    }

    [Fact]
    public async Task Selective_closes_seen_by_frequent_sweeps_teach_an_idle_timeout_below_the_backends()
    {
        using var pool = CreatePool(new PoolOptions { LearnIdleTimeout = true });
        var learned = new List<TimeSpan?>();
        for (var round = 0; round < 3; round++)
        {
            var connections = await StaggeredIdle(pool, 3); // ages now 3 s, 2 s, 1 s
            pool.Sweep();
            _time.Advance(TimeSpan.FromSeconds(3) - TimeSpan.FromMilliseconds(500));
            pool.Sweep();
            _time.Advance(TimeSpan.FromMilliseconds(500)); // ages 6 s, 5 s, 4 s; the sweep before was 0.5 s ago
            connections[0].PeerState = ConnectionCloseReason.PeerClosed;
            Assert.Equal(1, pool.Sweep());
            learned.Add(pool.LearnedIdleTimeout);
            foreach (var c in connections.Skip(1))
            {
                c.PeerState = ConnectionCloseReason.PeerClosed;
            }

            pool.Sweep();
        }

        Assert.Null(learned[0]);
        Assert.Null(learned[1]);

        // 6 s found closed - 0.5 s since the sweep before - 1 s margin.
        Assert.Equal(TimeSpan.FromSeconds(4.5), learned[2]);

        // Applied: a connection idle 4.5 s is given up (as an idle timeout) before the backend's close.
        var next = await UseOnce(pool);
        _time.Advance(TimeSpan.FromSeconds(4.5) - TimeSpan.FromTicks(1));
        Assert.Same(next, await UseOnce(pool));
        _time.Advance(TimeSpan.FromSeconds(4.5));
        Assert.Equal(1, pool.Sweep());
        Assert.Equal(ConnectionCloseReason.IdleTimeout, next.ClosedWith);
    }

    [Fact]
    public async Task A_backend_closing_every_idle_connection_at_once_teaches_nothing()
    {
        using var pool = CreatePool(new PoolOptions { LearnIdleTimeout = true });
        for (var round = 0; round < 5; round++)
        {
            var connections = await StaggeredIdle(pool, 3);
            pool.Sweep();
            _time.Advance(TimeSpan.FromMilliseconds(500));
            foreach (var c in connections)
            {
                c.PeerState = ConnectionCloseReason.PeerClosed; // a restart: all of them, whatever their age
            }

            Assert.Equal(3, pool.Sweep());
        }

        Assert.Null(pool.LearnedIdleTimeout);
        Assert.Equal(15, pool.Statistics.IdleAgeAtPeerClose.Count);
    }

    [Fact]
    public async Task Younger_connections_closed_while_older_ones_stay_open_teach_nothing()
    {
        using var pool = CreatePool(new PoolOptions { LearnIdleTimeout = true });
        for (var round = 0; round < 5; round++)
        {
            var connections = await StaggeredIdle(pool, 3);
            pool.Sweep();
            _time.Advance(TimeSpan.FromMilliseconds(500));
            connections[2].PeerState = ConnectionCloseReason.PeerClosed; // the youngest: not an idle timeout
            Assert.Equal(1, pool.Sweep());
            connections[0].PeerState = ConnectionCloseReason.PeerClosed;
            connections[1].PeerState = ConnectionCloseReason.PeerClosed;
            pool.Sweep();
        }

        Assert.Null(pool.LearnedIdleTimeout);
    }

    [Fact]
    public async Task Without_learning_selective_closes_change_nothing()
    {
        using var pool = CreatePool(new PoolOptions { LearnIdleTimeout = false });
        for (var round = 0; round < 5; round++)
        {
            var connections = await StaggeredIdle(pool, 3);
            pool.Sweep();
            _time.Advance(TimeSpan.FromMilliseconds(500));
            connections[0].PeerState = ConnectionCloseReason.PeerClosed;
            Assert.Equal(1, pool.Sweep());
            connections[1].PeerState = ConnectionCloseReason.PeerClosed;
            connections[2].PeerState = ConnectionCloseReason.PeerClosed;
            pool.Sweep();
        }

        Assert.Null(pool.LearnedIdleTimeout);
    }

    [Fact]
    public async Task Max_idle_zero_means_no_keep_alive()
    {
        using var pool = CreatePool(new PoolOptions { MaxIdle = 0 });
        var a = await UseOnce(pool);
        var b = await UseOnce(pool);
        Assert.NotSame(a, b);
        Assert.Equal(ConnectionCloseReason.PoolFull, a.ClosedWith);
    }

    [Fact]
    public async Task Idle_expiry_at_the_boundary_and_not_a_tick_before()
    {
        using var pool = CreatePool(idleTimeout: TimeSpan.FromSeconds(10));
        var c = await UseOnce(pool);
        _time.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));
        Assert.Equal(0, pool.Sweep());
        Assert.Same(c, await UseOnce(pool));

        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(1, pool.Sweep());
        Assert.Equal(ConnectionCloseReason.IdleTimeout, c.ClosedWith);
        Assert.Equal(0, pool.IdleCount);
    }

    [Fact]
    public async Task Expired_idle_connection_is_not_handed_out_even_before_a_sweep()
    {
        using var pool = CreatePool(idleTimeout: TimeSpan.FromSeconds(10));
        var c = await UseOnce(pool);
        _time.Advance(TimeSpan.FromSeconds(10));
        var next = await UseOnce(pool);
        Assert.NotSame(c, next);
        Assert.Equal(ConnectionCloseReason.IdleTimeout, c.ClosedWith);
        Assert.Equal(2, pool.Statistics.Created);
    }

    [Fact]
    public async Task Max_lifetime_retires_a_busy_connection_at_the_boundary()
    {
        using var pool = CreatePool(idleTimeout: TimeSpan.FromHours(1), maxLifetime: TimeSpan.FromMinutes(5));
        var c = await UseOnce(pool);
        _time.Advance(TimeSpan.FromMinutes(5) - TimeSpan.FromTicks(1));
        Assert.Same(c, await UseOnce(pool));
        _time.Advance(TimeSpan.FromTicks(1));
        var lease = await pool.AcquireAsync(false, default);
        Assert.NotSame(c, lease.Connection);
        Assert.Equal(ConnectionCloseReason.MaxLifetime, c.ClosedWith);
    }

    [Fact]
    public async Task Max_requests_per_connection_closes_on_return()
    {
        using var pool = CreatePool(maxRequests: 3);
        var c = await UseOnce(pool);
        Assert.Same(c, await UseOnce(pool));
        Assert.Same(c, await UseOnce(pool));
        Assert.Equal(ConnectionCloseReason.MaxRequests, c.ClosedWith);
        Assert.NotSame(c, await UseOnce(pool));
    }

    [Fact]
    public async Task Idle_connection_closed_by_peer_is_discarded_never_used()
    {
        using var pool = CreatePool();
        var c = await UseOnce(pool);
        c.PeerState = ConnectionCloseReason.PeerClosed;
        var lease = await pool.AcquireAsync(false, default);
        Assert.NotSame(c, lease.Connection);
        Assert.False(lease.Reused);
        Assert.Equal(ConnectionCloseReason.PeerClosed, c.ClosedWith);
        Assert.Equal(1, pool.Statistics.Closed(ConnectionCloseReason.PeerClosed));
    }

    [Fact]
    public async Task Require_new_skips_idle_connections()
    {
        using var pool = CreatePool();
        var c = await UseOnce(pool);
        var lease = await pool.AcquireAsync(requireNew: true, default);
        Assert.NotSame(c, lease.Connection);
        Assert.False(lease.Reused);
    }

    [Fact]
    public async Task At_the_cap_a_request_waits_and_gets_the_returned_connection()
    {
        using var pool = CreatePool(new PoolOptions { MaxConnections = 1, QueueTimeout = TimeSpan.FromSeconds(5) });
        var first = await pool.AcquireAsync(false, default);
        var waiting = pool.AcquireAsync(false, default).AsTask();
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, pool.WaitingCount);

        pool.Release(first.Connection, null);
        var second = await waiting;
        Assert.Same(first.Connection, second.Connection);
        Assert.True(second.Reused);
        Assert.Equal(1, pool.Statistics.Created);
    }

    [Fact]
    public async Task A_closed_connection_at_the_cap_lets_a_waiter_connect()
    {
        using var pool = CreatePool(new PoolOptions { MaxConnections = 1 });
        var first = await pool.AcquireAsync(false, default);
        var waiting = pool.AcquireAsync(false, default).AsTask();
        pool.Release(first.Connection, ConnectionCloseReason.Error);
        var second = await waiting;
        Assert.NotSame(first.Connection, second.Connection);
        Assert.False(second.Reused);
        Assert.Equal(1, pool.LeasedCount);
    }

    [Fact]
    public async Task Queue_timeout_gives_no_capacity()
    {
        using var pool = CreatePool(new PoolOptions { MaxConnections = 1, QueueTimeout = TimeSpan.FromSeconds(2) });
        var held = await pool.AcquireAsync(false, default);
        var waiting = pool.AcquireAsync(false, default).AsTask();
        _time.Advance(TimeSpan.FromSeconds(2));
        await Assert.ThrowsAsync<PoolExhaustedException>(() => waiting);
        Assert.Equal(0, pool.WaitingCount);
        Assert.Equal(1, pool.Statistics.QueueTimeouts);

        // The slot is still held by the first request; returning it leaves the pool consistent.
        pool.Release(held.Connection, null);
        Assert.Equal(1, pool.IdleCount);
        Assert.Equal(0, pool.LeasedCount);
    }

    [Fact]
    public async Task Full_queue_refuses_at_once()
    {
        using var pool = CreatePool(new PoolOptions { MaxConnections = 1, MaxQueue = 1 });
        await pool.AcquireAsync(false, default);
        _ = pool.AcquireAsync(false, default).AsTask();
        await Assert.ThrowsAsync<PoolExhaustedException>(async () => await pool.AcquireAsync(false, default));
    }

    [Fact]
    public async Task Failed_connect_frees_its_slot()
    {
        var failing = true;
        using var pool = CreatePool(new PoolOptions { MaxConnections = 1 }, fail: () => failing ? new IOException("refused") : null);
        await Assert.ThrowsAsync<IOException>(async () => await pool.AcquireAsync(false, default));
        failing = false;
        var lease = await pool.AcquireAsync(false, default);
        Assert.NotNull(lease.Connection);
        Assert.Equal(1, pool.Statistics.ConnectFailures);
    }

    [Fact]
    public async Task A_connect_the_caller_cancelled_is_not_a_connect_failure()
    {
        // A client that goes away while its backend connection is being opened (hundreds at once under a
        // slow-read attack) says nothing about the destination.
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        using var pool = CreatePool(new PoolOptions { MaxConnections = 1 }, fail: () => new OperationCanceledException(cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pool.AcquireAsync(false, cancelled.Token));
        Assert.Equal(0, pool.Statistics.ConnectFailures);

        // A cancellation the caller did not ask for (a timeout inside the connect) still counts.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pool.AcquireAsync(false, default));
        Assert.Equal(1, pool.Statistics.ConnectFailures);
    }

    [Fact]
    public async Task Dispose_closes_idle_connections_and_those_returned_later()
    {
        var pool = CreatePool();
        var idle = await UseOnce(pool);
        var held = await pool.AcquireAsync(true, default);
        pool.Dispose();
        Assert.Equal(ConnectionCloseReason.Shutdown, idle.ClosedWith);
        pool.Release(held.Connection, null);
        Assert.Equal(ConnectionCloseReason.Shutdown, held.Connection.ClosedWith);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await pool.AcquireAsync(false, default));
    }
}
