using System.Diagnostics;
using System.Net;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Http2Upstream;

/// <summary>
/// Issue 12: HTTP/2 backend connections (cluster protocol "http2", h2c) against a raw HTTP/2 backend that sends
/// GOAWAY where a test wants it or never answers a PING. Each response body names the backend connection and
/// stream that answered: "c2 s1".
/// </summary>
public sealed class Http2BackendConnectionTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_drain = TimeSpan.FromSeconds(10);

    /// <summary>Every connection answers its first stream, then sends GOAWAY with last-stream-id = that stream and
    /// closes: each next request goes on a new connection and succeeds.</summary>
    [Fact]
    public async Task After_a_GOAWAY_the_next_requests_succeed_on_a_new_connection()
    {
        await using var origin = RawHttp2Origin.Start(async connection =>
        {
            await connection.AcceptPrefaceAsync();
            if (await connection.NextRequestAsync() is not { } stream)
            {
                return;
            }

            await connection.WriteAsync([.. Http2OriginConnection.Response(stream, 200, $"c{connection.Index} s{stream}"), .. Http2Frame.BuildGoAway(stream)]);
            connection.ShutdownSend();
            await connection.IgnoreUntilClosedAsync(s_drain);
        });
        await using var gateway = await StartAsync(origin);
        using var http = new HttpClient { BaseAddress = gateway.Url };

        var bodies = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await http.GetAsync($"/g{i}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            bodies.Add(await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(["c1 s1", "c2 s1", "c3 s1"], bodies);
        Assert.Equal(3, origin.Accepted);
        Assert.Empty(origin.ScriptErrors);
    }

    /// <summary>A graceful GOAWAY (last-stream-id = the newest stream in flight) lets the streams in flight finish
    /// on that connection; the request after them opens a new one.</summary>
    [Fact]
    public async Task A_graceful_GOAWAY_lets_the_streams_in_flight_finish()
    {
        await using var origin = RawHttp2Origin.Start(async connection =>
        {
            await connection.AcceptPrefaceAsync();
            if (await connection.NextRequestAsync() is not { } first)
            {
                return;
            }

            await connection.WriteAsync(Http2OriginConnection.Response(first, 200, $"c{connection.Index} s{first}"));
            if (await connection.NextRequestAsync() is not { } a || await connection.NextRequestAsync() is not { } b)
            {
                return;
            }

            await connection.WriteAsync([
                .. Http2Frame.BuildGoAway(Math.Max(a, b)),
                .. Http2OriginConnection.Response(a, 200, $"c{connection.Index} s{a}"),
                .. Http2OriginConnection.Response(b, 200, $"c{connection.Index} s{b}"),
            ]);
            connection.ShutdownSend();
            await connection.IgnoreUntilClosedAsync(s_drain);
        });
        await using var gateway = await StartAsync(origin);
        using var http = new HttpClient { BaseAddress = gateway.Url };

        Assert.Equal("c1 s1", await http.GetStringAsync("/warm"));
        var inFlight = await Task.WhenAll(http.GetStringAsync("/a"), http.GetStringAsync("/b")).WaitAsync(TimeSpan.FromSeconds(20));
        var after = await http.GetStringAsync("/after");

        Assert.Equal(["c1 s3", "c1 s5"], inFlight.Order());
        Assert.Equal("c2 s1", after);
        Assert.Equal(2, origin.Accepted);
    }

    /// <summary>A GOAWAY whose last-stream-id is below a stream in flight: that stream was never processed, so
    /// Tether sends it again on a new connection and the client never learns of it.</summary>
    [Fact]
    public async Task A_stream_above_the_GOAWAY_last_stream_id_is_retried_on_a_new_connection()
    {
        await using var origin = RawHttp2Origin.Start(async connection =>
        {
            await connection.AcceptPrefaceAsync();
            if (await connection.NextRequestAsync() is not { } first)
            {
                return;
            }

            await connection.WriteAsync(Http2OriginConnection.Response(first, 200, $"c{connection.Index} s{first}"));
            if (connection.Index == 1 && await connection.NextRequestAsync() is not null)
            {
                // The second stream is left unprocessed: GOAWAY says the last one processed is the first.
                await connection.WriteAsync(Http2Frame.BuildGoAway(first));
                connection.ShutdownSend();
                await connection.IgnoreUntilClosedAsync(s_drain);
            }
            else
            {
                while (await connection.NextRequestAsync() is { } next)
                {
                    await connection.WriteAsync(Http2OriginConnection.Response(next, 200, $"c{connection.Index} s{next}"));
                }
            }
        });
        await using var gateway = await StartAsync(origin);
        using var http = new HttpClient { BaseAddress = gateway.Url };

        Assert.Equal("c1 s1", await http.GetStringAsync("/first"));
        using var retried = await http.GetAsync("/second");

        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Equal("c2 s1", await retried.Content.ReadAsStringAsync());
        Assert.Equal(2, origin.Accepted);
    }

    /// <summary>The backend takes the connection and the stream, then answers nothing, PINGs included. With
    /// http2.pingInterval 1s and pingTimeout 1s the connection is given up and the client gets a 502 within
    /// seconds, long before responseTimeout (60s).</summary>
    [Fact]
    public async Task A_backend_that_misses_its_PING_ack_is_a_502_within_seconds_not_at_responseTimeout()
    {
        var closedByTether = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var origin = RawHttp2Origin.Start(async connection =>
        {
            await connection.AcceptPrefaceAsync();
            if (await connection.NextRequestAsync(answerPings: false) is null)
            {
                return;
            }

            if (await connection.IgnoreUntilClosedAsync(TimeSpan.FromSeconds(30)))
            {
                closedByTether.TrySetResult(connection.PingsReceived);
            }
        });
        await using var gateway = await StartAsync(origin, cluster => cluster with
        {
            ResponseTimeout = TimeSpan.FromSeconds(60),
            Http2 = new Http2UpstreamConfig { PingInterval = TimeSpan.FromSeconds(1), PingTimeout = TimeSpan.FromSeconds(1) },
        });
        using var http = new HttpClient { BaseAddress = gateway.Url, Timeout = TimeSpan.FromSeconds(90) };

        var clock = Stopwatch.StartNew();
        using var response = await http.GetAsync("/frozen");
        var elapsed = clock.Elapsed;
        output.WriteLine($"{(int)response.StatusCode} after {elapsed.TotalSeconds:0.0}s");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.True(elapsed < TimeSpan.FromSeconds(20), $"the 502 took {elapsed.TotalSeconds:0.0}s");
        var pings = await closedByTether.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(pings >= 1, "Tether closed the connection without having sent a PING");
    }

    private Task<TestGateway> StartAsync(RawOrigin origin, Func<ClusterConfig, ClusterConfig>? cluster = null) =>
        TestGateway.StartAsync(
            "http://" + origin.Address,
            c =>
            {
                c = c with { Protocol = UpstreamProtocol.Http2, ResponseTimeout = TimeSpan.FromSeconds(15) };
                return cluster?.Invoke(c) ?? c;
            },
            output: output);
}
