using Tether.Doctor.Endpoint;
using Tether.Doctor.Http;
using Tether.Doctor.Tests.Servers;
using Xunit.Abstractions;

namespace Tether.Doctor.Tests.Endpoint;

/// <summary>Real servers with known idle timeouts; each test takes a few seconds of wall time by nature.</summary>
public sealed class IdleTimeoutProbeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Nginx_keepalive_timeout_3s_is_measured_as_3s()
    {
        await using var nginx = await NginxOrigin.StartAsync("keepalive_timeout 3s;");

        var estimate = await MeasureAsync(nginx.Url, TimeSpan.FromSeconds(10));

        Assert.Equal(IdleTimeoutKind.Measured, estimate.Kind);
        Assert.InRange(estimate.Value.TotalSeconds, 2.5, 3.5);
        Assert.True(estimate.Uncertainty <= TimeSpan.FromSeconds(0.5), $"uncertainty {estimate.Uncertainty}");
    }

    /// <summary>
    /// Kestrel checks its timeouts on a 1 s heartbeat and adds one heartbeat interval of slack when it arms
    /// the keep-alive deadline, so an idle connection is closed some time after KeepAliveTimeout, not at it.
    /// Measured here (5 s configured): closes seen from 5.13 to 6.6 s after the response, depending on where
    /// in the heartbeat each connection's response ended. The probe staggers its connections over about a
    /// second, so the earliest close it sees is usually within a few hundred ms of 5 s; that is the number a
    /// client pool must stay below. On a loaded machine (CI runs test projects in parallel) the few closes a
    /// round observes can all land late in the heartbeat window: 5.41 and 5.55 s were seen. So the earliest close
    /// is held to 4.5–6.0 s, never below the configured 5 s by more than the ±0.5 s the doctor promises, and the
    /// spread is asserted as what Kestrel really does. nginx, whose timer is exact, is held to ±0.5 s above.
    /// </summary>
    [Fact]
    public async Task Kestrel_keep_alive_5s_is_measured_as_5s_and_its_heartbeat_window_is_visible()
    {
        await using var kestrel = await KestrelOrigin.StartAsync(TimeSpan.FromSeconds(5));

        var estimate = await MeasureAsync(kestrel.Url, TimeSpan.FromSeconds(12));

        Assert.Equal(IdleTimeoutKind.Measured, estimate.Kind);
        // Kestrel closes between 5 s and 5 s + its 1 s heartbeat; on a loaded machine the heartbeat itself runs late
        // (6.10 s seen at load 15 on two cores), so the upper bound has half a second of slack beyond that.
        Assert.InRange(estimate.Value.TotalSeconds, 4.5, 6.5);
        Assert.InRange(estimate.LatestClose!.Value.TotalSeconds, 5.0, 7.5);
        Assert.True(estimate.Uncertainty <= TimeSpan.FromSeconds(0.5), $"uncertainty {estimate.Uncertainty}");
    }

    private async Task<IdleTimeoutEstimate> MeasureAsync(string url, TimeSpan budget)
    {
        Assert.True(ProbeTarget.TryParse(url, out var target, out _));
        var estimate = await new IdleTimeoutProbe(TimeProvider.System)
            .MeasureAsync(target!, new ConnectOptions(), budget, TimeSpan.Zero, CancellationToken.None);
        output.WriteLine(estimate.ToString());
        return estimate;
    }
}
