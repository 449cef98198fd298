using Tether.FunctionalTests.Infrastructure;
using Tether.Upstream.Pooling;
using Xunit.Abstractions;
using Tether.Testing;

namespace Tether.FunctionalTests.Pooling;

/// <summary>Keep-alive to the backend: one connection carries many requests, until a cap says otherwise.</summary>
public sealed class ConnectionReuseTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_thousand_sequential_requests_on_one_client_connection_use_one_upstream_connection()
    {
        await using var origin = RawOrigin.Ok();
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        for (var i = 1; i <= 1000; i++)
        {
            var response = await client.GetAsync($"/n/{i}");
            Assert.Equal(200, response.Status);
            Assert.Equal($"c1 r{i}", response.BodyText);
        }

        Assert.Equal(1, origin.Accepted);
        Assert.Equal([1000], origin.RequestsPerConnection());
        var stats = gateway.PoolStatistics();
        Assert.Equal(1, stats.Created);
        Assert.Equal(999, stats.Reused);
        Assert.Equal(1, gateway.Gateway.Downstream.Accepted);
        Assert.Equal(1000, gateway.Gateway.Downstream.Requests);
    }

    [Fact]
    public async Task A_pooled_connection_knows_the_thread_its_completions_run_on()
    {
        // The origin answers after a pause, so the gateway's receive completes asynchronously, on the socket's
        // own engine thread, which the connection records for the pool's same-thread preference.
        await using var origin = RawOrigin.Serve(async (request, connection) =>
        {
            await Task.Delay(50);
            await connection.RespondAsync(200, "ok");
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();
        Assert.Equal(200, (await client.GetAsync()).Status);

        var lease = await gateway.Pool().AcquireAsync(false, default);
        Assert.True(lease.Reused);
        Assert.NotEqual(0, lease.Connection.HomeThreadId);
        gateway.Pool().Release(lease.Connection, null);
    }

    [Fact]
    public async Task With_no_idle_slots_every_request_asks_the_backend_to_close()
    {
        // Keep-alive to the backend off (maxIdlePerDestination 0): the backend is asked to close, as nginx's
        // default proxy_http_version 1.0 does, so it is the active closer and holds the TIME_WAIT.
        await using var origin = RawOrigin.Serve(async (request, connection) =>
        {
            await connection.RespondAsync(200, "ok");
            if (request.Head.Get("Connection") == "close")
            {
                connection.Close();
            }
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, c => c with { Pool = c.Pool with { MaxIdlePerDestination = 0 } }, output: output);
        await using var client = await gateway.ConnectAsync();

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(200, (await client.GetAsync()).Status);
        }

        Assert.Equal(3, origin.Accepted);
        Assert.All(origin.Requests, r => Assert.Equal("close", r.Head.Get("Connection")));
        var stats = gateway.PoolStatistics();
        Assert.Equal(3, stats.Created);
        Assert.Equal(0, stats.Reused);
        Assert.Equal(3, stats.Closed(ConnectionCloseReason.PoolFull));
    }

    [Fact]
    public async Task Pool_maxRequestsPerConnection_5_spreads_20_requests_over_4_upstream_connections()
    {
        await using var origin = RawOrigin.Ok();
        await using var gateway = await TestGateway.StartAsync(origin.Address, c => c with { Pool = c.Pool with { MaxRequestsPerConnection = 5 } }, output: output);
        await using var client = await gateway.ConnectAsync();

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(200, (await client.GetAsync()).Status);
        }

        Assert.Equal(4, origin.Accepted);
        Assert.Equal([5, 5, 5, 5], origin.RequestsPerConnection());
        var stats = gateway.PoolStatistics();
        Assert.Equal(4, stats.Created);
        Assert.Equal(16, stats.Reused);
        Assert.Equal(4, stats.Closed(ConnectionCloseReason.MaxRequests));

        // The 5th request on each connection asks the backend to close (so its TIME_WAIT is not on Tether's
        // side); the first four do not.
        foreach (var request in origin.Requests)
        {
            Assert.Equal(request.IndexOnConnection == 5 ? "close" : null, request.Head.Get("Connection"));
        }

        // This origin ignores the request (it never closes): Tether closes each connection itself after the
        // response, so every one sees EOF from Tether.
        foreach (var connection in origin.Connections)
        {
            Assert.True(await connection.ClosedByTetherAsync(TimeSpan.FromSeconds(5)), $"connection {connection.Index} still open");
        }
    }

    /// <summary>
    /// "Keep-Alive: max=M" counts the requests the backend still accepts after this response (Apache sends
    /// MaxKeepAliveRequests minus those served). This backend allows 3 per connection and says so, max=2, 1, 0,
    /// without ever closing or saying "Connection: close"; a 4th request on a connection would find it gone.
    /// Tether must stop at 3 on its own.
    /// </summary>
    [Fact]
    public async Task Keep_Alive_max_is_learned_and_a_new_connection_opens_when_it_runs_out()
    {
        const int allowed = 3;
        var overrun = 0;
        await using var origin = RawOrigin.Serve(async (request, connection) =>
        {
            if (request.IndexOnConnection > allowed)
            {
                Interlocked.Increment(ref overrun);
                connection.Reset();
                return;
            }

            await connection.RespondAsync(200, $"c{request.ConnectionIndex} r{request.IndexOnConnection}",
                $"Keep-Alive: timeout=1, max={allowed - request.IndexOnConnection}");
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        for (var i = 0; i < 9; i++)
        {
            var response = await client.GetAsync();
            Assert.Equal(200, response.Status);
            Assert.False(response.Head.Has("Keep-Alive"), "the backend's Keep-Alive is hop-by-hop");
        }

        Assert.Equal(0, overrun);
        Assert.Equal([3, 3, 3], origin.RequestsPerConnection());
        Assert.Equal(3, gateway.PoolStatistics().Closed(ConnectionCloseReason.MaxRequests));
        Assert.Empty(gateway.Logs.Named("UpstreamRetry"));
    }

    /// <summary>
    /// "Keep-Alive: timeout=1": the backend closes after 1 s idle, so Tether gives the connection up a margin
    /// before that (a quarter of it: 750 ms). Fake clock: 750 ms minus one tick idle is reused, 750 ms is not.
    /// </summary>
    [Fact]
    public async Task Keep_Alive_timeout_is_learned_and_an_idle_connection_is_not_reused_after_it()
    {
        var clock = new ManualTimeProvider();
        var learned = TimeSpan.FromMilliseconds(750);
        await using var origin = RawOrigin.Serve((request, connection) =>
            connection.RespondAsync(200, $"c{request.ConnectionIndex} r{request.IndexOnConnection}", "Keep-Alive: timeout=1"));
        await using var gateway = await TestGateway.StartAsync(origin.Address, timeProvider: clock, sweepInterval: TimeSpan.FromHours(1), output: output);
        await using var client = await gateway.ConnectAsync();

        Assert.Equal("c1 r1", (await client.GetAsync()).BodyText);
        clock.Advance(learned - TimeSpan.FromTicks(1));
        Assert.Equal("c1 r2", (await client.GetAsync()).BodyText);
        clock.Advance(learned);
        Assert.Equal("c2 r1", (await client.GetAsync()).BodyText);

        Assert.Equal(1, gateway.PoolStatistics().Closed(ConnectionCloseReason.IdleTimeout));
        Assert.True(await origin.Connections[0].ClosedByTetherAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Pool_idleTimeout_expires_an_idle_connection_at_the_boundary()
    {
        var clock = new ManualTimeProvider();
        var idle = TimeSpan.FromSeconds(10);
        await using var origin = RawOrigin.Ok();
        await using var gateway = await TestGateway.StartAsync(origin.Address, c => c with { Pool = c.Pool with { IdleTimeout = idle } },
            timeProvider: clock, sweepInterval: TimeSpan.FromHours(1), output: output);
        await using var client = await gateway.ConnectAsync();

        Assert.Equal("c1 r1", (await client.GetAsync()).BodyText);
        clock.Advance(idle - TimeSpan.FromTicks(1));
        Assert.Equal("c1 r2", (await client.GetAsync()).BodyText);
        clock.Advance(idle);
        Assert.Equal("c2 r1", (await client.GetAsync()).BodyText);

        Assert.Equal(1, gateway.PoolStatistics().Closed(ConnectionCloseReason.IdleTimeout));
    }

    [Fact]
    public async Task The_sweeper_closes_an_expired_idle_connection_without_waiting_for_a_request()
    {
        var clock = new ManualTimeProvider();
        await using var origin = RawOrigin.Ok();
        await using var gateway = await TestGateway.StartAsync(origin.Address, c => c with { Pool = c.Pool with { IdleTimeout = TimeSpan.FromSeconds(10) } },
            timeProvider: clock, sweepInterval: TimeSpan.FromSeconds(1), output: output);
        await using var client = await gateway.ConnectAsync();
        Assert.Equal(200, (await client.GetAsync()).Status);
        Assert.Equal(1, gateway.Pool().IdleCount);

        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(1, gateway.Pool().IdleCount);
        clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(0, gateway.Pool().IdleCount);
        Assert.Equal(1, gateway.PoolStatistics().Closed(ConnectionCloseReason.IdleTimeout));
        Assert.True(await origin.Connections[0].ClosedByTetherAsync(TimeSpan.FromSeconds(5)), "the swept connection was not closed");
    }

    [Fact]
    public async Task Pool_maxLifetime_retires_a_busy_connection_at_its_age_not_its_idle_time()
    {
        var clock = new ManualTimeProvider();
        await using var origin = RawOrigin.Ok();
        await using var gateway = await TestGateway.StartAsync(origin.Address, c => c with { Pool = c.Pool with { MaxLifetime = TimeSpan.FromSeconds(30) } },
            timeProvider: clock, sweepInterval: TimeSpan.FromHours(1), output: output);
        await using var client = await gateway.ConnectAsync();

        Assert.Equal("c1 r1", (await client.GetAsync()).BodyText);
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal("c1 r2", (await client.GetAsync()).BodyText);
        clock.Advance(TimeSpan.FromSeconds(20) - TimeSpan.FromTicks(1));
        Assert.Equal("c1 r3", (await client.GetAsync()).BodyText);
        clock.Advance(TimeSpan.FromTicks(1));
        Assert.Equal("c2 r1", (await client.GetAsync()).BodyText);

        Assert.Equal(1, gateway.PoolStatistics().Closed(ConnectionCloseReason.MaxLifetime));
    }

    [Fact]
    public async Task Backend_Connection_close_is_honoured_and_the_next_request_uses_a_new_connection()
    {
        await using var origin = RawOrigin.Serve((request, connection) =>
            connection.RespondAsync(200, $"c{request.ConnectionIndex} r{request.IndexOnConnection}", "Connection: close"));
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        Assert.Equal("c1 r1", (await client.GetAsync()).BodyText);
        Assert.Equal("c2 r1", (await client.GetAsync()).BodyText);

        Assert.Equal(2, gateway.PoolStatistics().Closed(ConnectionCloseReason.ServerClose));
        Assert.Equal(0, gateway.PoolStatistics().Reused);
        Assert.Empty(gateway.Logs.Named("UpstreamRetry"));
    }

    [Theory]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false)]
    [InlineData("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", true)]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", true)]
    public async Task An_HTTP_1_0_response_is_reused_only_if_it_says_keep_alive(string response, bool reused)
    {
        await using var origin = RawOrigin.Serve((_, connection) => connection.WriteAsync(response));
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        Assert.Equal("ok", (await client.GetAsync()).BodyText);
        Assert.Equal("ok", (await client.GetAsync()).BodyText);

        Assert.Equal(reused ? 1 : 2, origin.Accepted);
    }

    [Fact]
    public async Task Above_maxIdlePerDestination_a_returned_connection_is_closed_as_pool_full_with_no_excess_timeout()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var origin = RawOrigin.Serve(async (request, connection) =>
        {
            if (request.Target == "/hold")
            {
                await release.Task.WaitAsync(TimeSpan.FromSeconds(10));
            }

            await connection.RespondAsync(200, "ok");
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, c => c with { Pool = c.Pool with { MaxIdlePerDestination = 1, ExcessIdleTimeout = TimeSpan.Zero } }, output: output);
        await using var first = await gateway.ConnectAsync();
        await using var second = await gateway.ConnectAsync();

        var a = first.GetAsync("/hold");
        var b = second.GetAsync("/hold");
        await Eventually.TrueAsync(() => origin.Requests.Count == 2, "both requests should reach the origin");
        release.SetResult();
        Assert.Equal(200, (await a).Status);
        Assert.Equal(200, (await b).Status);

        await Eventually.TrueAsync(() => gateway.PoolStatistics().Closed(ConnectionCloseReason.PoolFull) == 1, "the second connection back should not fit");
        Assert.Equal(1, gateway.Pool().IdleCount);
        Assert.Equal(2, origin.Accepted);
    }

    [Fact]
    public async Task Above_maxIdlePerDestination_connections_wait_the_excess_timeout_and_serve_the_next_burst()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holds = 0;
        await using var origin = RawOrigin.Serve(async (request, connection) =>
        {
            if (request.Target == "/hold" && Interlocked.Increment(ref holds) <= 3)
            {
                await release.Task.WaitAsync(TimeSpan.FromSeconds(10));
            }

            await connection.RespondAsync(200, "ok");
        });
        await using var gateway = await TestGateway.StartAsync(
            origin.Address,
            c => c with { Pool = c.Pool with { MaxIdlePerDestination = 1, ExcessIdleTimeout = TimeSpan.FromMilliseconds(1500) } },
            sweepInterval: TimeSpan.FromMilliseconds(100),
            output: output);
        var clients = new List<RawClient>();
        for (var i = 0; i < 3; i++)
        {
            clients.Add(await gateway.ConnectAsync());
        }

        try
        {
            // A burst of three on a cap of one: three backend connections.
            var burst = clients.Select(c => c.GetAsync("/hold")).ToList();
            await Eventually.TrueAsync(() => origin.Requests.Count == 3, "the burst should reach the origin");
            release.SetResult();
            Assert.All(await Task.WhenAll(burst), r => Assert.Equal(200, r.Status));
            await Eventually.TrueAsync(() => gateway.Pool().IdleCount == 3, "all three should go back to the pool");
            Assert.Equal(0, gateway.PoolStatistics().Closed(ConnectionCloseReason.PoolFull));

            // The next burst, well within the excess timeout, reuses all three: nothing new is opened.
            Assert.All(await Task.WhenAll(clients.Select(c => c.GetAsync("/hold"))), r => Assert.Equal(200, r.Status));
            Assert.Equal(3, origin.Accepted);

            // Then the two above the cap close once they have been idle that long; the one within it stays.
            await Eventually.TrueAsync(
                () => gateway.PoolStatistics().Closed(ConnectionCloseReason.PoolFull) == 2, "the excess should be closed after 1.5 s", TimeSpan.FromSeconds(5));
            Assert.Equal(1, gateway.Pool().IdleCount);
            Assert.Equal("ok", (await clients[0].GetAsync()).BodyText);
            Assert.Equal(3, origin.Accepted);
        }
        finally
        {
            foreach (var c in clients)
            {
                await c.DisposeAsync();
            }
        }
    }
}
