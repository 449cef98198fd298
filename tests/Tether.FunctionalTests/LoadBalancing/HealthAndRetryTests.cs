using System.Net;

namespace Tether.FunctionalTests.LoadBalancing;

public sealed class HealthAndRetryTests
{
    [Fact]
    public async Task A_connect_failure_is_retried_on_another_destination_with_zero_client_errors()
    {
        await using var live = await CountingOrigin.StartAsync();
        var dead = $"127.0.0.1:{BalancedGateway.ClosedPort()}";
        // Passive ejection off, so every other request really meets the dead destination first.
        await using var gateway = await BalancedGateway.StartAsync($$"""
            { "destinations": ["{{dead}}", "{{live.Address}}"], "loadBalancing": "roundRobin",
              "healthCheck": { "passive": { "consecutiveFailures": 0 } } }
            """);

        var statuses = await gateway.LoadAsync(total: 60, concurrency: 4);

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(60, live.Requests);
        var deadState = gateway.Cluster.Destinations[0];
        Assert.True(deadState.Requests >= 25, $"the dead destination was tried {deadState.Requests} times");
        Assert.Equal(0, deadState.Health.Ejections);
    }

    [Fact]
    public async Task A_post_whose_body_went_out_is_never_replayed()
    {
        await using var resetting = await CountingOrigin.StartAsync();
        resetting.ResetAfterBody = true;
        await using var healthy = await CountingOrigin.StartAsync();
        await using var gateway = await StartRoundRobinAsync(resetting, healthy);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 10; i++)
        {
            using var response = await gateway.Client.PostAsync("/orders", new StringContent($"order {i}"));
            statuses.Add(response.StatusCode);
        }

        // Every body reached exactly one origin: the five that hit the resetting origin were answered 502,
        // not sent again to the healthy one.
        Assert.Equal(10, resetting.Bodies + healthy.Bodies);
        Assert.Equal(5, resetting.Bodies);
        Assert.Equal(5, statuses.Count(s => s == HttpStatusCode.BadGateway));
        Assert.Equal(5, statuses.Count(s => s == HttpStatusCode.OK));
    }

    [Fact]
    public async Task A_get_reset_before_any_response_byte_moves_to_another_destination()
    {
        await using var resetting = await CountingOrigin.StartAsync();
        resetting.ResetAfterBody = true;
        await using var healthy = await CountingOrigin.StartAsync();
        await using var gateway = await StartRoundRobinAsync(resetting, healthy);

        var statuses = await gateway.LoadAsync(total: 10, concurrency: 1);

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(10, healthy.Requests);
        Assert.True(resetting.Requests >= 5);
    }

    [Fact]
    public async Task An_origin_that_dies_is_ejected_at_its_threshold_gets_no_traffic_and_returns()
    {
        await using var steady = await CountingOrigin.StartAsync();
        await using var flaky = await CountingOrigin.StartAsync();
        await using var gateway = await BalancedGateway.StartAsync($$"""
            { "destinations": ["{{steady.Address}}", "{{flaky.Address}}"], "loadBalancing": "roundRobin",
              "healthCheck": { "passive": { "consecutiveFailures": 3, "baseEjectionTime": "1s" } } }
            """);
        var flakyState = gateway.Cluster.Destinations[1];
        await gateway.LoadAsync(total: 10, concurrency: 1);
        Assert.Equal(5, flaky.Requests);
        var attemptsWhileUp = flakyState.Requests;

        await flaky.StopAsync();
        var statuses = await gateway.LoadAsync(total: 30, concurrency: 1);

        // Its turns came every other request: the first three failed to connect (and went to the steady
        // origin), the third ejected it, and it was not tried again.
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(attemptsWhileUp + 3, flakyState.Requests);
        Assert.Equal(1, flakyState.Health.Ejections);

        // Back on its port; once the ejection is over it takes traffic again.
        await flaky.StartAsync();
        await SendUntilAsync(gateway, () => flaky.Requests > 5);
        Assert.Equal(1, flakyState.Health.Ejections);
    }

    [Fact]
    public async Task An_origin_failing_its_probes_gets_no_traffic_until_they_pass_again()
    {
        await using var steady = await CountingOrigin.StartAsync();
        await using var sick = await CountingOrigin.StartAsync();
        await using var gateway = await BalancedGateway.StartAsync($$"""
            { "destinations": ["{{steady.Address}}", "{{sick.Address}}"], "loadBalancing": "roundRobin",
              "healthCheck": { "active": { "path": "/healthz", "interval": "50ms", "timeout": "50ms", "healthyThreshold": 2, "unhealthyThreshold": 2 } } }
            """);
        var sickState = gateway.Cluster.Destinations[1];

        sick.HealthStatus = 503;
        await BalancedGateway.WaitUntilAsync(() => !sickState.Health.ProbeHealthy);
        var before = sick.Requests;
        var statuses = await gateway.LoadAsync(total: 20, concurrency: 2);
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(before, sick.Requests);

        sick.HealthStatus = 200;
        await SendUntilAsync(gateway, () => sick.Requests > before);
        Assert.True(sickState.Health.ProbeHealthy);
    }

    // Passive ejection off, so that every other request really meets the first origin.
    private static Task<BalancedGateway> StartRoundRobinAsync(CountingOrigin first, CountingOrigin second) =>
        BalancedGateway.StartAsync($$"""
            { "destinations": ["{{first.Address}}", "{{second.Address}}"], "loadBalancing": "roundRobin",
              "healthCheck": { "passive": { "consecutiveFailures": 0 } } }
            """);

    private static async Task SendUntilAsync(BalancedGateway gateway, Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 5s");
            var statuses = await gateway.LoadAsync(total: 2, concurrency: 1);
            Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task With_no_healthy_destination_the_answer_is_503_naming_the_cluster()
    {
        await using var sick = await CountingOrigin.StartAsync();
        sick.HealthStatus = 500;
        await using var gateway = await BalancedGateway.StartAsync($$"""
            { "destinations": ["{{sick.Address}}"],
              "healthCheck": { "active": { "path": "/healthz", "interval": "50ms", "timeout": "50ms", "unhealthyThreshold": 1 } } }
            """);

        await BalancedGateway.WaitUntilAsync(() => !gateway.Cluster.Destinations[0].Health.ProbeHealthy);

        using var response = await gateway.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("cluster 'app'", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, sick.Requests);
    }
}
