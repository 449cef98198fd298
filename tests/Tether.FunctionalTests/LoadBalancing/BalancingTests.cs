using System.Net;

namespace Tether.FunctionalTests.LoadBalancing;

public sealed class BalancingTests
{
    [Fact]
    public async Task Least_connections_sends_fewer_requests_to_a_slow_origin_than_round_robin()
    {
        var slowUnderRoundRobin = await SlowOriginShareAsync("roundRobin");
        var slowUnderLeastConnections = await SlowOriginShareAsync("leastConnections");

        // Round robin ignores how busy the slow origin is: it takes half. Least connections sees its requests
        // pile up and sends the rest to the fast one.
        Assert.InRange(slowUnderRoundRobin, 90, 110);
        Assert.True(slowUnderLeastConnections < slowUnderRoundRobin / 2,
            $"least connections sent {slowUnderLeastConnections} of 200 requests to the slow origin, round robin {slowUnderRoundRobin}");
    }

    [Theory]
    [InlineData("roundRobin", 400, 0.02)]
    [InlineData("leastConnections", 400, 0.07)]
    // Random draws are independent: the heavy share of n draws has a standard deviation of sqrt(0.75 × 0.25 / n),
    // 0.0097 for 2,000, so 0.05 is five deviations (about one failure in three million runs). With 400 draws and
    // 0.07 it was 3.2 deviations, and CI drew 0.6775 once.
    [InlineData("random", 2000, 0.05)]
    public async Task Weights_shift_shares_within_tolerance(string policy, int total, double tolerance)
    {
        await using var heavy = await CountingOrigin.StartAsync();
        await using var light = await CountingOrigin.StartAsync();
        await using var gateway = await BalancedGateway.StartAsync($$"""
            { "destinations": [{ "address": "{{heavy.Address}}", "weight": 3 }, "{{light.Address}}"], "loadBalancing": "{{policy}}" }
            """);

        var statuses = await gateway.LoadAsync(total, concurrency: 1);

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(total, heavy.Requests + light.Requests);
        Assert.InRange((double)heavy.Requests / total, 0.75 - tolerance, 0.75 + tolerance);
    }

    [Fact]
    public async Task Consistent_hash_on_a_header_sends_each_user_to_one_origin()
    {
        await using var a = await CountingOrigin.StartAsync();
        await using var b = await CountingOrigin.StartAsync();
        await using var c = await CountingOrigin.StartAsync();
        await using var gateway = await BalancedGateway.StartAsync($$"""
            { "destinations": ["{{a.Address}}", "{{b.Address}}", "{{c.Address}}"], "loadBalancing": "consistentHash",
              "consistentHash": { "key": "header:X-User" } }
            """);

        var servedBy = new HashSet<string>();
        for (var user = 0; user < 12; user++)
        {
            var origins = new HashSet<string>();
            for (var i = 0; i < 5; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/");
                request.Headers.Add("X-User", $"user-{user}");
                using var response = await gateway.Client.SendAsync(request);
                origins.Add(await response.Content.ReadAsStringAsync());
            }

            Assert.Single(origins);
            servedBy.UnionWith(origins);
        }

        Assert.True(servedBy.Count > 1, "twelve users all hashed to one origin");
    }

    private static async Task<int> SlowOriginShareAsync(string policy)
    {
        await using var fast = await CountingOrigin.StartAsync();
        await using var slow = await CountingOrigin.StartAsync();
        slow.Delay = TimeSpan.FromMilliseconds(100);
        await using var gateway = await BalancedGateway.StartAsync($$"""
            { "destinations": ["{{fast.Address}}", "{{slow.Address}}"], "loadBalancing": "{{policy}}" }
            """);

        var statuses = await gateway.LoadAsync(total: 200, concurrency: 8);

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(200, fast.Requests + slow.Requests);
        return slow.Requests;
    }
}
