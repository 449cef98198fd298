using System.Diagnostics;
using System.Net;
using Xunit.Abstractions;

namespace Tether.Client.Tests;

public sealed class KeepAliveTests(ITestOutputHelper output)
{
    // 300 GETs against a backend that closes idle connections at exactly 300 ms without announcing it, spaced so that
    // reuse lands before, at and after that moment: 10 callers at once, 30 requests each, 270-330 ms apart.
    [Fact]
    public async Task Three_hundred_GETs_spaced_around_an_unannounced_idle_timeout_all_succeed()
    {
        var idleTimeout = TimeSpan.FromMilliseconds(300);
        await using var tetherBackend = new RawBackend { IdleTimeout = idleTimeout };
        await using var socketsBackend = new RawBackend { IdleTimeout = idleTimeout };
        using var tether = new HttpClient(new TetherHttpHandler(new TetherClientOptions { SweepInterval = TimeSpan.FromMilliseconds(100) }));
        using var sockets = new HttpClient(new SocketsHttpHandler());

        var stopwatch = Stopwatch.StartNew();
        var runs = await Task.WhenAll(RunAsync(tether, tetherBackend.Url), RunAsync(sockets, socketsBackend.Url));
        output.WriteLine($"TetherHttpHandler:  {runs[0].Failures} of 300 failed, {tetherBackend.ConnectionCount} connections opened, {tetherBackend.RequestCount - 300} request(s) retried after the backend dropped them{runs[0].FirstError}");
        output.WriteLine($"SocketsHttpHandler: {runs[1].Failures} of 300 failed, {socketsBackend.ConnectionCount} connections opened{runs[1].FirstError} (reported, not asserted)");
        output.WriteLine($"both runs side by side: {stopwatch.Elapsed.TotalSeconds:0.0} s");

        Assert.Equal(0, runs[0].Failures);
        Assert.True(tetherBackend.RequestCount >= 300);
    }

    private static async Task<(int Failures, string FirstError)> RunAsync(HttpClient client, string url)
    {
        var failures = 0;
        string? first = null;
        var callers = Enumerable.Range(0, 10).Select(async caller =>
        {
            for (var i = 0; i < 30; i++)
            {
                try
                {
                    var body = await client.GetStringAsync(url);
                    Assert.Equal("hello", body);
                }
                catch (HttpRequestException ex)
                {
                    Interlocked.Increment(ref failures);
                    Interlocked.CompareExchange(ref first, $" (first: {ex.HttpRequestError}: {ex.Message})", null);
                }

                // 270, 280, … 330 ms: around the backend's 300 ms, different for each caller.
                await Task.Delay(TimeSpan.FromMilliseconds(270 + (((caller + i) % 7) * 10)));
            }
        });
        await Task.WhenAll(callers);
        return (failures, first ?? "");
    }

    [Fact]
    public async Task MaxRequestsPerConnection_caps_what_each_connection_carries_and_the_last_asks_to_close()
    {
        await using var backend = new RawBackend();
        using var client = new HttpClient(new TetherHttpHandler(new TetherClientOptions { MaxRequestsPerConnection = 5 }));
        for (var i = 0; i < 23; i++)
        {
            Assert.Equal("hello", await client.GetStringAsync(backend.Url));
        }

        Assert.Equal(5, backend.MaxRequestsOnOneConnection);
        Assert.Equal(5, backend.ConnectionCount);
        foreach (var request in backend.Requests)
        {
            var asksToClose = request.Headers.TryGetValue("Connection", out var c) && c == "close";
            Assert.Equal(request.IndexOnConnection == 5, asksToClose);
        }
    }

    [Fact]
    public async Task The_idle_cap_is_held_when_a_burst_returns_more_connections()
    {
        var arrived = 0;
        var allArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = new RawBackend
        {
            // Every answer waits until all 8 requests are in: 8 connections at once.
            Respond = async _ =>
            {
                if (Interlocked.Increment(ref arrived) == 8)
                {
                    allArrived.TrySetResult();
                }

                await allArrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
                return RawBackend.Ok("hello");
            },
        };
        var handler = new TetherHttpHandler(new TetherClientOptions { MaxIdleConnectionsPerHost = 2 });
        using var client = new HttpClient(handler);
        var bodies = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => client.GetStringAsync(backend.Url)));
        Assert.All(bodies, b => Assert.Equal("hello", b));
        Assert.Equal(8, backend.ConnectionCount);

        await backend.WaitForAsync(b => b.OpenConnections == 2, TimeSpan.FromSeconds(10));
        Assert.Equal(2, backend.OpenConnections);
        var pool = Assert.Single(handler.FindHost(new Uri(backend.Url))!.Cluster.Destinations).Pool;
        Assert.Equal(2, pool.IdleCount);
        Assert.Equal(6, pool.Statistics.Closed(Tether.Upstream.Pooling.ConnectionCloseReason.PoolFull));
    }

    [Fact]
    public async Task The_server_keep_alive_max_is_honoured_and_its_last_request_asks_to_close()
    {
        // Apache's way: each response says how many more requests the connection takes (2, 1, then 0).
        await using var backend = new RawBackend
        {
            Respond = r => ValueTask.FromResult<byte[]?>(RawBackend.Ok("hello", $"Keep-Alive: timeout=5, max={3 - r.IndexOnConnection}\r\n")),
        };
        using var client = new HttpClient(new TetherHttpHandler());
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal("hello", await client.GetStringAsync(backend.Url));
        }

        Assert.Equal(3, backend.MaxRequestsOnOneConnection);
        Assert.Equal(2, backend.ConnectionCount);
        Assert.Contains(backend.Requests, r => r is { ConnectionId: 1, IndexOnConnection: 3 } && r.Headers["Connection"] == "close");
    }

    [Fact]
    public async Task A_GET_on_a_connection_the_backend_drops_without_answering_is_retried_on_a_fresh_one()
    {
        await using var backend = new RawBackend
        {
            // The second request on the first connection meets the close the keep-alive race produces.
            Respond = r => ValueTask.FromResult(r is { ConnectionId: 1, IndexOnConnection: 2 } ? null : RawBackend.Ok("hello")),
        };
        using var client = new HttpClient(new TetherHttpHandler());
        Assert.Equal("hello", await client.GetStringAsync(backend.Url));
        Assert.Equal("hello", await client.GetStringAsync(backend.Url));
        Assert.Equal(2, backend.ConnectionCount);
    }

    [Fact]
    public async Task A_POST_the_backend_may_have_acted_on_is_not_sent_twice()
    {
        await using var backend = new RawBackend
        {
            Respond = r => ValueTask.FromResult(r is { ConnectionId: 1, IndexOnConnection: 2 } ? null : RawBackend.Ok("hello")),
        };
        using var client = new HttpClient(new TetherHttpHandler());
        Assert.Equal("hello", await client.GetStringAsync(backend.Url));
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.PostAsync(backend.Url, new StringContent("order")));
        Assert.Equal(HttpRequestError.ResponseEnded, error.HttpRequestError);
        Assert.Equal(2, backend.RequestCount);
    }
}
