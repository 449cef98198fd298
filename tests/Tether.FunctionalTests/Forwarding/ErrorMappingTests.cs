using Microsoft.Extensions.Logging;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Tether.Upstream;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Forwarding;

/// <summary>Each upstream failure becomes one status (502/503/504) and one warning naming cluster, destination, phase and cause.</summary>
public sealed class ErrorMappingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Connection_refused_is_a_502_naming_the_connect_phase()
    {
        using var refusing = new RefusingPort();
        await using var gateway = await TestGateway.StartAsync(refusing.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        var response = await client.GetAsync("/x");

        Assert.Equal(502, response.Status);
        var id = AssertRequestId(response, refusing.Address);
        Assert.Equal($"502 Bad Gateway: upstream Connect failed (Refused)\nrequest id: {id}\n", response.BodyText);
        AssertLogged(gateway, 502, refusing.Address, "Connect", "Refused", id);
        Assert.Equal(1, gateway.Gateway.Counters.Errors(UpstreamPhase.Connect, UpstreamErrorKind.Refused));
        Assert.Equal(1, gateway.PoolStatistics().ConnectFailures);

        // The client connection survives an upstream error.
        Assert.Equal(502, (await client.GetAsync("/y")).Status);
    }

    [Fact]
    public async Task A_backend_that_stalls_past_responseTimeout_is_a_504()
    {
        await using var origin = RawOrigin.Start(async connection =>
        {
            await connection.ReadRequestAsync();
            await connection.WaitForPeerCloseAsync(TimeSpan.FromSeconds(30));
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, c => c with { ResponseTimeout = TimeSpan.FromMilliseconds(300) }, output: output);
        await using var client = await gateway.ConnectAsync();

        var started = TimeProvider.System.GetTimestamp();
        var response = await client.GetAsync();
        var elapsed = TimeProvider.System.GetElapsedTime(started);

        Assert.Equal(504, response.Status);
        Assert.Contains("ReadHeaders", response.BodyText, StringComparison.Ordinal);
        Assert.InRange(elapsed.TotalMilliseconds, 250, 5000);
        AssertLogged(gateway, 504, origin.Address, "ReadHeaders", "Timeout", AssertRequestId(response, origin.Address));
        Assert.True(await origin.Connections[0].ClosedByTetherAsync(TimeSpan.FromSeconds(5)), "the timed-out connection was not closed");
        Assert.Equal(1, gateway.PoolStatistics().Closed(Upstream.Pooling.ConnectionCloseReason.Error));
    }

    [Fact]
    public async Task A_reused_connection_whose_backend_stalls_past_responseTimeout_is_a_504()
    {
        // The second request goes out on the pooled connection, whose first receive (the read-ahead) started when the
        // pool handed it out, without a token: the timer must still end the wait.
        await using var origin = RawOrigin.Start(async connection =>
        {
            await connection.ReadRequestAsync();
            await connection.RespondAsync(200, "first");
            await connection.ReadRequestAsync();
            await connection.WaitForPeerCloseAsync(TimeSpan.FromSeconds(30));
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, c => c with { ResponseTimeout = TimeSpan.FromMilliseconds(300) }, output: output);
        await using var client = await gateway.ConnectAsync();
        Assert.Equal(200, (await client.GetAsync("/first")).Status);

        var response = await client.GetAsync("/second");

        Assert.Equal(504, response.Status);
        Assert.Contains("ReadHeaders", response.BodyText, StringComparison.Ordinal);
        Assert.Single(origin.Connections);
        AssertLogged(gateway, 504, origin.Address, "ReadHeaders", "Timeout", AssertRequestId(response, origin.Address));
        Assert.True(await origin.Connections[0].ClosedByTetherAsync(TimeSpan.FromSeconds(5)), "the timed-out connection was not closed");
    }

    [Fact]
    public async Task A_backend_that_stalls_mid_body_past_responseTimeout_aborts_the_client_connection()
    {
        await using var origin = RawOrigin.Start(async connection =>
        {
            await connection.ReadRequestAsync();
            await connection.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf.");
            await connection.WaitForPeerCloseAsync(TimeSpan.FromSeconds(30));
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, c => c with { ResponseTimeout = TimeSpan.FromMilliseconds(300) }, output: output);
        await using var client = await gateway.ConnectAsync();

        var response = await client.GetAsync();

        Assert.Equal(200, response.Status);
        Assert.False(response.Complete);
        Assert.Equal(1, gateway.Gateway.Counters.Errors(UpstreamPhase.ReadBody, UpstreamErrorKind.Timeout));
    }

    [Fact]
    public async Task At_maxConnectionsPerDestination_a_request_that_waits_past_queueTimeout_is_a_503()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var origin = RawOrigin.Serve(async (request, connection) =>
        {
            await release.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await connection.RespondAsync(200, "slow");
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address,
            c => c with { Pool = c.Pool with { MaxConnectionsPerDestination = 1, QueueTimeout = TimeSpan.FromMilliseconds(200) } }, output: output);
        await using var first = await gateway.ConnectAsync();
        await using var second = await gateway.ConnectAsync();

        var slow = first.GetAsync("/first");
        while (origin.Requests.Count == 0)
        {
            await Task.Delay(5);
        }

        var queued = await second.GetAsync("/second");
        release.SetResult();
        var served = await slow;

        Assert.Equal(503, queued.Status);
        Assert.Contains("Queue", queued.BodyText, StringComparison.Ordinal);
        Assert.Equal(200, served.Status);
        Assert.Equal(1, origin.Accepted);
        Assert.Equal(1, gateway.PoolStatistics().QueueTimeouts);
        AssertLogged(gateway, 503, origin.Address, "Queue", "NoCapacity", AssertRequestId(queued, origin.Address));
    }

    [Fact]
    public async Task A_queued_request_gets_the_connection_when_it_is_released_in_time()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var origin = RawOrigin.Serve(async (request, connection) =>
        {
            if (request.Target == "/first")
            {
                await release.Task.WaitAsync(TimeSpan.FromSeconds(10));
            }

            await connection.RespondAsync(200, request.Target);
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address,
            c => c with { Pool = c.Pool with { MaxConnectionsPerDestination = 1, QueueTimeout = TimeSpan.FromSeconds(10) } }, output: output);
        await using var first = await gateway.ConnectAsync();
        await using var second = await gateway.ConnectAsync();

        var slow = first.GetAsync("/first");
        while (origin.Requests.Count == 0)
        {
            await Task.Delay(5);
        }

        var queued = second.GetAsync("/second");
        while (gateway.Pool().WaitingCount == 0)
        {
            await Task.Delay(5);
        }

        release.SetResult();

        Assert.Equal("/first", (await slow).BodyText);
        Assert.Equal("/second", (await queued).BodyText);
        Assert.Equal(1, origin.Accepted);
    }

    [Fact]
    public async Task No_matching_route_is_a_404()
    {
        await using var origin = RawOrigin.Ok();
        var config = TestGateway.ConfigFor(origin.Address) with
        {
            Routes = [new RouteConfig { Match = new RouteMatchConfig { Host = "api.example", PathPrefix = "/v1" }, Cluster = TestGateway.Cluster }],
        };
        await using var gateway = await TestGateway.StartAsync(config, output: output);
        await using var client = await gateway.ConnectAsync();

        Assert.Equal(404, (await client.GetAsync("/v1/x", "other.example")).Status);
        Assert.Equal(404, (await client.GetAsync("/v2/x", "api.example")).Status);
        Assert.Equal(404, (await client.GetAsync("/v1x", "api.example")).Status);
        Assert.Equal(200, (await client.GetAsync("/v1/x", "API.example:8080")).Status);

        Assert.Equal(3, gateway.Gateway.Counters.NotFound);
        Assert.Single(origin.Requests);
    }

    [Fact]
    public async Task An_error_response_on_the_last_request_a_client_connection_may_carry_still_closes_it()
    {
        using var refusing = new RefusingPort();
        await using var gateway = await TestGateway.StartAsync(refusing.Address, downstream: d => d with { MaxRequestsPerConnection = 2 }, output: output);
        await using var client = await gateway.ConnectAsync();

        Assert.Equal(502, (await client.GetAsync()).Status);
        var last = await client.GetAsync();

        Assert.Equal(502, last.Status);
        Assert.True(last.Head.HasToken("Connection", "close"), last.Head.Text);
        Assert.True(await client.WaitForCloseAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_gRPC_call_to_a_refused_backend_gets_status_14_with_a_request_id_and_no_address()
    {
        using var refusing = new RefusingPort();
        await using var gateway = await TestGateway.StartAsync(refusing.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        await client.SendAsync(RawClient.Request("POST", "/pkg.Svc/Call", "tether.test", "Content-Type: application/grpc", "Content-Length: 0"));
        var response = await client.ReadResponseAsync();

        Assert.Equal(200, response.Status);
        Assert.Equal("14", response.Head.Get("grpc-status"));
        var id = AssertRequestId(response, refusing.Address);
        var message = Uri.UnescapeDataString(response.Head.Get("grpc-message")!);
        Assert.Equal($"upstream Connect failed (Refused); request id {id}", message);
        Assert.DoesNotContain(refusing.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), message, StringComparison.Ordinal);
        AssertLogged(gateway, 502, refusing.Address, "Connect", "Refused", id);
    }

    [Fact]
    public async Task A_cluster_with_every_destination_ejected_is_a_503_naming_the_cluster_only()
    {
        using var refusing = new RefusingPort();
        using var other = new RefusingPort();
        await using var gateway = await TestGateway.StartAsync(TestGateway.ConfigFor(refusing.Address, other.Address) with
        {
            Clusters = new Dictionary<string, ClusterConfig>
            {
                [TestGateway.Cluster] = TestGateway.ClusterFor(refusing.Address, other.Address) with
                {
                    HealthCheck = new HealthCheckConfig { Passive = new PassiveHealthCheckConfig { ConsecutiveFailures = 1 } },
                    Retries = new RetryConfig { MaxAttempts = 1 },
                },
            },
        }, output: output);
        await using var client = await gateway.ConnectAsync();

        Assert.Equal(502, (await client.GetAsync()).Status);
        Assert.Equal(502, (await client.GetAsync()).Status);
        var response = await client.GetAsync();

        Assert.Equal(503, response.Status);
        var id = AssertRequestId(response, refusing.Address);
        Assert.DoesNotContain(other.Address, response.BodyText, StringComparison.Ordinal);
        Assert.StartsWith("503 Service Unavailable: cluster 'app' has no destination to send to\n", response.BodyText, StringComparison.Ordinal);
        Assert.Contains(gateway.Logs.Named("NoDestination"), e => e.Message.Contains("request=" + id, StringComparison.Ordinal));
    }

    // The id is in X-Request-Id and (for a text body) in the body; no error answer names a backend's address or port.
    private static string AssertRequestId(ClientResponse response, string backendAddress)
    {
        var id = response.Head.Get("X-Request-Id");
        Assert.False(string.IsNullOrEmpty(id), response.Head.Text);
        if (response.Body.Length > 0)
        {
            Assert.Contains("request id: " + id, response.BodyText, StringComparison.Ordinal);
        }

        var port = backendAddress[(backendAddress.LastIndexOf(':') + 1)..];
        Assert.DoesNotContain(backendAddress, response.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(":" + port, response.BodyText, StringComparison.Ordinal);
        return id!;
    }

    private static void AssertLogged(TestGateway gateway, int status, string destination, string phase, string cause, string requestId)
    {
        var entry = Assert.Single(gateway.Logs.Named("UpstreamFailed"));
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.StartsWith($"{status} cluster=app destination={destination} phase={phase} cause={cause}:", entry.Message, StringComparison.Ordinal);
        Assert.EndsWith("request=" + requestId, entry.Message, StringComparison.Ordinal);
    }
}
