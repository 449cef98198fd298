using System.Diagnostics;
using System.Net;
using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Forwarding;

/// <summary>
/// readIdleTimeout against raw backends that accept, read the request and then go silent (what a dropped flow
/// or a hung process looks like from Tether): detected within the bound, retried when safe, logged.
/// </summary>
public sealed class DeadPeerTests(ITestOutputHelper output)
{
    private static readonly TimeSpan _readIdle = TimeSpan.FromMilliseconds(400);

    // Scheduling on a loaded two-core machine; the bound itself is what is measured.
    private static readonly TimeSpan _slack = TimeSpan.FromSeconds(1.5);

    private static readonly TimeSpan _earliest = _readIdle - Timers.EarlyFire;

    [Fact]
    public async Task A_backend_silent_before_its_response_is_detected_within_readIdleTimeout_and_a_get_moves_on_with_zero_client_errors()
    {
        await using var silent = RawOrigin.Start(SilentAfterRequestAsync);
        await using var healthy = RawOrigin.Ok();
        await using var gateway = await StartAsync(silent.Address, healthy.Address);
        using var client = new HttpClient { BaseAddress = gateway.Url, Timeout = TimeSpan.FromSeconds(20) };

        var slowest = TimeSpan.Zero;
        for (var i = 0; i < 6; i++)
        {
            var watch = Stopwatch.StartNew();
            using var response = await client.GetAsync($"/item/{i}");
            slowest = watch.Elapsed > slowest ? watch.Elapsed : slowest;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(3, silent.Requests.Count);
        Assert.Equal(6, healthy.Requests.Count);
        Assert.InRange(slowest, _earliest, _readIdle + _slack);
        var retries = gateway.Logs.Named("UpstreamRetry");
        Assert.Equal(3, retries.Count);
        Assert.All(retries, r => Assert.Contains($"destination={silent.Address} phase=ReadHeaders cause=Timeout (no byte from the backend for readIdleTimeout 400ms", r.Message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_post_to_a_silent_backend_gets_504_at_readIdleTimeout_and_is_not_sent_twice()
    {
        await using var silent = RawOrigin.Start(SilentAfterRequestAsync);
        await using var healthy = RawOrigin.Ok();
        await using var gateway = await StartAsync(silent.Address, healthy.Address);
        using var client = new HttpClient { BaseAddress = gateway.Url, Timeout = TimeSpan.FromSeconds(20) };

        var watch = Stopwatch.StartNew();
        using var response = await client.PostAsync("/orders", new StringContent("order"));

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.InRange(watch.Elapsed, _earliest, _readIdle + _slack);
        Assert.Single(silent.Requests);
        Assert.Empty(healthy.Requests);
        var body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("127.0.0.1", body, StringComparison.Ordinal);
        var failed = Assert.Single(gateway.Logs.Named("UpstreamFailed"));
        Assert.Contains($"destination={silent.Address}", failed.Message, StringComparison.Ordinal);
        Assert.Contains("readIdleTimeout", failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_backend_silent_in_the_middle_of_a_body_is_cut_at_readIdleTimeout_not_at_responseTimeout()
    {
        await using var stalling = RawOrigin.Start(async connection =>
        {
            await connection.ReadRequestAsync();
            await connection.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
            await Task.Delay(Timeout.Infinite, connection.Stopping);
        });
        await using var gateway = await StartAsync(stalling.Address);
        using var client = new HttpClient { BaseAddress = gateway.Url, Timeout = TimeSpan.FromSeconds(20) };

        var watch = Stopwatch.StartNew();
        using var response = await client.GetAsync("/big", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => response.Content.ReadAsByteArrayAsync());

        Assert.InRange(watch.Elapsed, _earliest, _readIdle + _slack);
        Assert.Single(stalling.Requests);
        var failed = Assert.Single(gateway.Logs.Named("UpstreamFailed"));
        Assert.Contains("phase=ReadBody cause=Timeout", failed.Message, StringComparison.Ordinal);
    }

    private static async Task SilentAfterRequestAsync(OriginConnection connection)
    {
        while (await connection.ReadRequestAsync() is not null)
        {
            // Read, never answered: the flow is alive at TCP level and silent above it.
        }
    }

    private Task<TestGateway> StartAsync(params string[] destinations)
    {
        var config = TestGateway.ConfigFor(destinations);
        var cluster = config.Clusters[TestGateway.Cluster] with
        {
            LoadBalancing = "roundRobin",
            ReadIdleTimeout = _readIdle,
            ResponseTimeout = TimeSpan.FromSeconds(30),
            HealthCheck = new Configuration.HealthCheckConfig { Passive = new Configuration.PassiveHealthCheckConfig { ConsecutiveFailures = 0 } },
        };
        return TestGateway.StartAsync(config with { Clusters = new Dictionary<string, Configuration.ClusterConfig> { [TestGateway.Cluster] = cluster } }, output: output);
    }
}
