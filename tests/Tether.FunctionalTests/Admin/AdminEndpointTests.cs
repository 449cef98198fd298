using System.Net;
using System.Text.Json;
using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Admin;

/// <summary>/status, /metrics and /healthz on the admin listener reflect the traffic that went through.</summary>
public sealed class AdminEndpointTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Status_and_metrics_count_connections_requests_and_pool_reuse()
    {
        await using var origin = RawOrigin.Ok();
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using (var first = await gateway.ConnectAsync())
        {
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(200, (await first.GetAsync()).Status);
            }
        }

        await using (var second = await gateway.ConnectAsync())
        {
            Assert.Equal(200, (await second.GetAsync()).Status);
            Assert.Equal(200, (await second.GetAsync("/x")).Status);
        }

        using var http = new HttpClient { BaseAddress = gateway.AdminUrl };
        var statusText = await http.GetStringAsync("/status");
        output.WriteLine(statusText);
        using var status = JsonDocument.Parse(statusText);
        var root = status.RootElement;
        var connections = root.GetProperty("connections");
        Assert.Equal(2, connections.GetProperty("accepted").GetInt64());
        Assert.Equal(2, connections.GetProperty("handled").GetInt64());
        Assert.Equal(5, root.GetProperty("requests").GetProperty("total").GetInt64());
        var pool = root.GetProperty("clusters").GetProperty("app").GetProperty("destinations").GetProperty(origin.Address).GetProperty("pool");
        Assert.Equal(1, pool.GetProperty("created").GetInt64());
        Assert.Equal(4, pool.GetProperty("reused").GetInt64());
        Assert.Equal(1, pool.GetProperty("idle").GetInt64());
        Assert.Equal(0, pool.GetProperty("active").GetInt64());
        Assert.Equal(0, pool.GetProperty("closed").GetProperty("peerClosed").GetInt64());
        var process = root.GetProperty("process");
        Assert.True(process.GetProperty("allocatedBytes").GetInt64() > 0);
        Assert.InRange(process.GetProperty("gcPauseMilliseconds").GetInt64(), 0, (long)(DateTime.Now - System.Diagnostics.Process.GetCurrentProcess().StartTime).TotalMilliseconds);

        var metrics = await http.GetStringAsync("/metrics");
        var labels = $"{{cluster=\"app\",destination=\"{origin.Address}\"}}";
        Assert.Contains("\ntether_connections_accepted_total 2\n", metrics, StringComparison.Ordinal);
        Assert.Contains("\ntether_requests_total 5\n", metrics, StringComparison.Ordinal);
        Assert.Contains($"\ntether_upstream_connections_created_total{labels} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains($"\ntether_upstream_connections_reused_total{labels} 4\n", metrics, StringComparison.Ordinal);
        Assert.Contains("# TYPE tether_upstream_connections_closed_total counter\n", metrics, StringComparison.Ordinal);

        using var health = await http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }
}
