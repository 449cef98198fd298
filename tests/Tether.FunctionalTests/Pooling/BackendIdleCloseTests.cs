using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Tether.Upstream;
using Tether.Upstream.Pooling;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Pooling;

/// <summary>
/// The race this product exists for: a backend closes an idle keep-alive connection at the moment Tether
/// picks it for a request. A GET must never turn into a client error; a POST whose body went out must
/// never be sent twice.
/// </summary>
public sealed class BackendIdleCloseTests(ITestOutputHelper output)
{
    /// <summary>
    /// Five lanes (each its own client connection, route, pool and origin), 100 GETs each, spaced 30 to 70 ms
    /// apart at random against origins that close every connection after exactly 50 ms idle and do not
    /// advertise it. Spacings above 50 ms find the connection closed (the idle probe or the retry handles it),
    /// spacings near 50 ms write into a connection the backend is closing at that instant. About 5 s of wall time.
    /// </summary>
    [Fact]
    public async Task Five_hundred_GETs_spaced_around_the_backend_idle_timeout_cause_zero_client_errors()
    {
        const int lanes = 5;
        const int requestsPerLane = 100;
        var backendIdle = TimeSpan.FromMilliseconds(50);
        var origins = Enumerable.Range(0, lanes).Select(_ => RawOrigin.Ok(idleTimeout: backendIdle)).ToArray();
        try
        {
            var config = TestGateway.ConfigFor() with
            {
                Routes = [.. Enumerable.Range(0, lanes).Select(i => new RouteConfig { Match = new RouteMatchConfig { Host = $"lane{i}.test" }, Cluster = $"lane{i}" })],
                Clusters = Enumerable.Range(0, lanes).ToDictionary(i => $"lane{i}", i => TestGateway.ClusterFor(origins[i].Address)),
            };
            await using var gateway = await TestGateway.StartAsync(config);

            var errors = await Task.WhenAll(Enumerable.Range(0, lanes).Select(lane => RunLaneAsync(gateway, $"lane{lane}.test", requestsPerLane, seed: lane)));

            var retries = gateway.Logs.Named("UpstreamRetry").Count;
            var peerClosed = Enumerable.Range(0, lanes).Sum(i => gateway.PoolStatistics(0, $"lane{i}").Closed(ConnectionCloseReason.PeerClosed));
            var created = Enumerable.Range(0, lanes).Sum(i => gateway.PoolStatistics(0, $"lane{i}").Created);
            var originClosedIdle = origins.Sum(o => o.Connections.Count(c => c.IdledOut));
            output.WriteLine($"backend idle closes {originClosedIdle}, found closed by the probe {peerClosed}, retried {retries}, connections created {created}");
            foreach (var retry in gateway.Logs.Named("UpstreamRetry").Take(5))
            {
                output.WriteLine(retry.Message);
            }

            Assert.Empty(errors.SelectMany(e => e));
            Assert.Equal(lanes * requestsPerLane, origins.Sum(o => o.Requests.Count));
            Assert.Equal(0L, gateway.Gateway.Counters.ClientAbortedCount);

            // The race was really run: the backends closed idle connections under Tether, and Tether found them
            // closed (probe) or lost the race and retried.
            Assert.True(originClosedIdle > 50, $"only {originClosedIdle} backend idle closes");
            Assert.True(peerClosed + retries > 50, $"peerClosed {peerClosed} + retries {retries}");
        }
        finally
        {
            foreach (var origin in origins)
            {
                await origin.DisposeAsync();
            }
        }
    }

    private static async Task<List<string>> RunLaneAsync(TestGateway gateway, string host, int requests, int seed)
    {
        var errors = new List<string>();
        var random = new Random(seed);
        await using var client = await gateway.ConnectAsync();
        for (var i = 0; i < requests; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(30 + random.Next(41)));
            try
            {
                var response = await client.GetAsync($"/{i}", host);
                if (response.Status != 200 || !response.Complete)
                {
                    errors.Add($"{host} #{i}: {response.Status} {response.BodyText}");
                }
            }
            catch (Exception ex) when (ex is IOException or EndOfStreamException or System.Net.Sockets.SocketException)
            {
                errors.Add($"{host} #{i}: {ex.Message}");
                return errors;
            }
        }

        return errors;
    }

    /// <summary>The race made deterministic: the backend takes the second GET on a reused connection and closes without answering.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_GET_on_a_reused_connection_the_backend_drops_is_retried_once_on_a_fresh_connection(bool reset)
    {
        await using var origin = RawOrigin.Start(async connection =>
        {
            while (await connection.ReadRequestAsync() is { } request)
            {
                if (connection.Index == 1 && request.IndexOnConnection == 2)
                {
                    if (reset)
                    {
                        connection.Reset();
                    }

                    return;
                }

                await connection.RespondAsync(200, $"c{request.ConnectionIndex} r{request.IndexOnConnection}");
            }
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        Assert.Equal("c1 r1", (await client.GetAsync("/a")).BodyText);
        var second = await client.GetAsync("/b");

        Assert.Equal(200, second.Status);
        Assert.Equal("c2 r1", second.BodyText);
        Assert.Equal(["/a", "/b", "/b"], origin.Requests.Select(r => r.Target));
        var retry = Assert.Single(gateway.Logs.Named("UpstreamRetry"));
        Assert.Contains($"cluster=app destination={origin.Address}", retry.Message, StringComparison.Ordinal);
        Assert.Empty(gateway.Logs.Named("UpstreamFailed"));
    }

    [Fact]
    public async Task A_GET_is_retried_only_once_and_the_second_failure_is_a_502()
    {
        // Every second request on every connection is dropped: the retry's fresh connection serves its
        // first request fine, so make the origin drop first requests on connections after the first too.
        await using var origin = RawOrigin.Start(async connection =>
        {
            while (await connection.ReadRequestAsync() is { } request)
            {
                if (connection.Index > 1 || request.IndexOnConnection == 2)
                {
                    return;
                }

                await connection.RespondAsync(200, "ok");
            }
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        Assert.Equal(200, (await client.GetAsync()).Status);
        var second = await client.GetAsync();

        Assert.Equal(502, second.Status);
        Assert.Equal(2, origin.Accepted);
        Assert.Single(gateway.Logs.Named("UpstreamRetry"));
        Assert.Single(gateway.Logs.Named("UpstreamFailed"));
    }

    /// <summary>
    /// The body went out on a reused connection and the backend dropped it before answering: the backend may
    /// have acted on it, so Tether must not send it again. 502, and the origin saw the body once.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_POST_whose_body_went_out_on_a_reused_connection_is_not_replayed(bool reset)
    {
        await using var origin = OriginThatDropsPosts(reset);
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        Assert.Equal(200, (await client.GetAsync()).Status);
        await client.SendAsync(RawClient.Request("POST", "/order", "tether.test", "Content-Length: 11") + "order #4711");
        var response = await client.ReadResponseAsync();

        Assert.Equal(502, response.Status);
        var posts = origin.Requests.Where(r => r.Method == "POST").ToList();
        var post = Assert.Single(posts);
        Assert.Equal("order #4711", System.Text.Encoding.ASCII.GetString(post.Body));
        Assert.Equal(1, origin.Accepted);
        Assert.Empty(gateway.Logs.Named("UpstreamRetry"));
        var failed = Assert.Single(gateway.Logs.Named("UpstreamFailed"));
        Assert.Contains("phase=ReadHeaders", failed.Message, StringComparison.Ordinal);
        Assert.Contains("reused connection: True", failed.Message, StringComparison.Ordinal);
        Assert.Equal(1, gateway.Gateway.Counters.Errors(UpstreamPhase.ReadHeaders, reset ? UpstreamErrorKind.Reset : UpstreamErrorKind.Closed));
    }

    /// <summary>
    /// Issue 11: a POST with no body (Content-Length: 0, or none at all) is its head alone. Sent on a reused
    /// connection to a backend that reads it and then closes or resets without answering, it was treated as a
    /// stale connection and sent again (the backend processed it twice, the client got 200). Once its head has
    /// left, a non-idempotent request is never resent: 502, and the backend saw it once.
    /// </summary>
    [Theory]
    [InlineData(false, "Content-Length: 0")]
    [InlineData(true, "Content-Length: 0")]
    [InlineData(false, null)]
    [InlineData(true, null)]
    public async Task A_bodiless_POST_the_backend_read_on_a_reused_connection_is_not_replayed(bool reset, string? contentLength)
    {
        await using var origin = OriginThatDropsPosts(reset);
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        Assert.Equal(200, (await client.GetAsync()).Status);
        await client.SendAsync(RawClient.Request("POST", "/charge", "tether.test", contentLength is null ? [] : [contentLength]));
        var response = await client.ReadResponseAsync();

        Assert.Equal(502, response.Status);
        Assert.Single(origin.Requests, r => r.Method == "POST");
        Assert.Equal(1, origin.Accepted);
        Assert.Empty(gateway.Logs.Named("UpstreamRetry"));
        var failed = Assert.Single(gateway.Logs.Named("UpstreamFailed"));
        Assert.Contains("phase=ReadHeaders", failed.Message, StringComparison.Ordinal);
        Assert.Contains("reused connection: True", failed.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The 2,000-request run, shortened: 300 bodiless POSTs, each with its own id, on one client
    /// connection, against a backend that answers two requests per connection and reads the third and resets.
    /// Every POST reaches the backend exactly once, whatever the client was answered.
    /// </summary>
    [Fact]
    public async Task Bodiless_POSTs_against_a_backend_that_reads_and_resets_each_arrive_exactly_once()
    {
        await using var origin = RawOrigin.Start(async connection =>
        {
            while (await connection.ReadRequestAsync() is { } request)
            {
                if (request.IndexOnConnection == 3)
                {
                    connection.Reset();
                    return;
                }

                await connection.RespondAsync(200, "ok");
            }
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        var answered = new Dictionary<int, int>();
        for (var i = 0; i < 300; i++)
        {
            await client.SendAsync(RawClient.Request("POST", "/charge", "tether.test", "Content-Length: 0", $"X-Charge: {i}"));
            var status = (await client.ReadResponseAsync()).Status;
            answered[status] = answered.GetValueOrDefault(status) + 1;
        }

        output.WriteLine(string.Join(", ", answered.Select(a => $"{a.Key}: {a.Value}")));
        var charges = origin.Requests.Select(r => r.Head.Get("X-Charge")).ToList();
        Assert.Equal(300, charges.Count);
        Assert.Equal(300, charges.Distinct().Count());
        Assert.Equal(200, answered[200]);
        Assert.Equal(100, answered[502]);
        Assert.Empty(gateway.Logs.Named("UpstreamRetry"));
    }

    /// <summary>Answers GETs 200; reads a POST whole, then closes (or, with <paramref name="reset"/>, resets) without answering.</summary>
    private static RawOrigin OriginThatDropsPosts(bool reset) => RawOrigin.Start(async connection =>
    {
        while (await connection.ReadRequestAsync() is { } request)
        {
            if (request.Method == "POST")
            {
                if (reset)
                {
                    connection.Reset();
                }

                return;
            }

            await connection.RespondAsync(200, "ok");
        }
    });
}
