using System.Globalization;
using System.Text.Json;
using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Admin;

/// <summary>
/// Reuse-race telemetry on real sockets: how long pooled connections sat idle when reused, and how long they had
/// been idle when found closed by a backend that closes idle connections after 300 ms without saying so.
/// </summary>
public sealed class ReuseRaceTelemetryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Idle_ages_at_reuse_and_at_the_backends_close_show_in_status_and_metrics()
    {
        var backendIdle = TimeSpan.FromMilliseconds(300);
        await using var origin = RawOrigin.Ok(idleTimeout: backendIdle);
        await using var gateway = await TestGateway.StartAsync(origin.Address, sweepInterval: TimeSpan.FromMilliseconds(50), output: output);
        await using (var client = await gateway.ConnectAsync())
        {
            Assert.Equal(200, (await client.GetAsync()).Status);
            Assert.Equal(200, (await client.GetAsync()).Status); // reuses the connection at once
        }

        // The sweep probes idle connections: the backend's close is found within a sweep or so of it, not when a
        // request next takes the connection (there is no next request here).
        await Eventually.TrueAsync(() => origin.Connections.Any(c => c.IdledOut), "the origin should close the idle connection", TimeSpan.FromSeconds(5));
        var originClosed = System.Diagnostics.Stopwatch.StartNew();
        await Eventually.TrueAsync(() => gateway.PoolStatistics().IdleAgeAtPeerClose.Count == 1, "the sweep should find the backend's close", TimeSpan.FromSeconds(5));
        output.WriteLine($"found closed {originClosed.ElapsedMilliseconds} ms after the origin closed");
        Assert.True(originClosed.Elapsed < TimeSpan.FromMilliseconds(750), $"found {originClosed.ElapsedMilliseconds} ms after the origin closed");
        var statistics = gateway.PoolStatistics();
        Assert.Equal(1, statistics.IdleAgeAtReuse.Count);
        Assert.True(statistics.IdleAgeAtReuse.Min < backendIdle, $"reused after {statistics.IdleAgeAtReuse.Min}");
        var closedAt = statistics.IdleAgeAtPeerClose.Min!.Value;
        output.WriteLine($"backend closes idle connections after {backendIdle.TotalMilliseconds} ms or later; found closed at {closedAt.TotalMilliseconds:F1} ms idle");
        // The backend's clock starts when it has written the response, Tether's when it has read it and returned the
        // connection to the pool, a little later: the age found can fall short of the backend's timeout by that gap.
        Assert.True(closedAt >= backendIdle - TimeSpan.FromMilliseconds(100), $"found closed at {closedAt} idle, well before the backend's {backendIdle}");
        Assert.Equal(1, origin.Connections.Count(c => c.IdledOut));

        using var http = new HttpClient { BaseAddress = gateway.AdminUrl };
        using var status = JsonDocument.Parse(await http.GetStringAsync("/status"));
        var pool = status.RootElement.GetProperty("clusters").GetProperty("app").GetProperty("destinations").GetProperty(origin.Address).GetProperty("pool");
        var peerClose = pool.GetProperty("idleAgeAtPeerClose");
        Assert.Equal(1, peerClose.GetProperty("count").GetInt64());
        Assert.Equal(closedAt.TotalSeconds, peerClose.GetProperty("minSeconds").GetDouble(), 3);
        Assert.Equal(1, pool.GetProperty("idleAgeAtReuse").GetProperty("buckets").EnumerateObject().Sum(b => b.Value.GetInt64()));

        var metrics = await http.GetStringAsync("/metrics");
        var labels = $"cluster=\"app\",destination=\"{origin.Address}\"";
        const string name = "tether_upstream_idle_age_at_peer_close_seconds";
        Assert.Contains($"# TYPE {name} histogram\n", metrics, StringComparison.Ordinal);
        Assert.Contains($"\n{name}_bucket{{{labels},le=\"0.1\"}} 0\n", metrics, StringComparison.Ordinal);
        Assert.Contains($"\n{name}_bucket{{{labels},le=\"+Inf\"}} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains($"\n{name}_count{{{labels}}} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains(
            $"\n{name}_sum{{{labels}}} {closedAt.TotalSeconds.ToString("0.######", CultureInfo.InvariantCulture)}\n", metrics, StringComparison.Ordinal);
        Assert.Contains($"\ntether_upstream_idle_age_at_reuse_seconds_count{{{labels}}} 1\n", metrics, StringComparison.Ordinal);
    }
}
