using Tether.Configuration;
using Tether.Doctor.Chain;
using Tether.Doctor.Endpoint;
using Tether.Doctor.Reporting;
using Tether.Doctor.Tests.Servers;

namespace Tether.Doctor.Tests.Chain;

public sealed class TimeoutChainTests
{
    private static readonly DestinationConfig _destination = new() { Address = "10.0.0.1:80", Host = "10.0.0.1", Port = 80 };

    [Fact]
    public void Pool_expiry_longer_than_the_measured_server_timeout_fails_with_the_limit_to_set()
    {
        var cluster = Cluster(TimeSpan.FromSeconds(60));

        var check = TimeoutChainRules.Upstream("api", cluster, _destination, Measured(4.8, 0.2));

        Assert.Equal(Verdict.Fail, check.Verdict);
        Assert.Contains("pool.idleTimeout 60 s", check.Finding, StringComparison.Ordinal);
        Assert.Contains("4.80 s", check.Finding, StringComparison.Ordinal);
        Assert.Contains("clusters.api.pool.idleTimeout below 4.60 s", check.Advice, StringComparison.Ordinal);
    }

    [Fact]
    public void Pool_expiry_below_the_server_timeout_passes_and_a_shorter_advertised_timeout_wins()
    {
        var cluster = Cluster(TimeSpan.FromSeconds(4));

        Assert.Equal(Verdict.Pass, TimeoutChainRules.Upstream("api", cluster, _destination, Measured(5, 0.1)).Verdict);
        Assert.Equal(Verdict.Fail, TimeoutChainRules.Upstream("api", cluster, _destination, Measured(5, 0.1) with { Advertised = TimeSpan.FromSeconds(3) }).Verdict);
        var longer = new DestinationIdle(new IdleTimeoutEstimate { Kind = IdleTimeoutKind.LongerThanBudget, LowerBound = TimeSpan.FromSeconds(6) }, null);
        Assert.Equal(Verdict.Pass, TimeoutChainRules.Upstream("api", cluster, _destination, longer).Verdict);
    }

    [Fact]
    public void Front_and_nat_hops_compare_declared_timeouts()
    {
        var downstream = new DownstreamConfig { KeepAliveTimeout = TimeSpan.FromSeconds(75) };

        Assert.Equal(Verdict.Pass, TimeoutChainRules.Front(downstream, new ChainConfig { FrontIdleTimeout = TimeSpan.FromSeconds(60) }).Verdict);
        Assert.Equal(Verdict.Fail, TimeoutChainRules.Front(downstream, new ChainConfig { FrontIdleTimeout = TimeSpan.FromSeconds(120) }).Verdict);
        Assert.Equal(Verdict.Info, TimeoutChainRules.Front(downstream, new ChainConfig()).Verdict);

        var nat = new ChainConfig { NatIdleTimeout = TimeSpan.FromSeconds(350) };
        var withKeepAlive = Cluster(TimeSpan.FromSeconds(600)) with { TcpKeepAlive = new TcpKeepAliveConfig { Idle = TimeSpan.FromSeconds(60) } };
        Assert.Equal(Verdict.Pass, TimeoutChainRules.Nat("api", withKeepAlive, nat).Verdict);
        Assert.Equal(Verdict.Fail, TimeoutChainRules.Nat("api", Cluster(TimeSpan.FromSeconds(600)), nat).Verdict);
        Assert.Equal(Verdict.Pass, TimeoutChainRules.Nat("api", Cluster(TimeSpan.FromSeconds(60)), nat).Verdict);
    }

    /// <summary>`check --probe` end to end against a real nginx (keepalive_timeout 3s) with a 10 s pool expiry.</summary>
    [Fact]
    public async Task Check_probe_flags_a_pool_expiry_longer_than_the_backends_timeout()
    {
        await using var nginx = await NginxOrigin.StartAsync("keepalive_timeout 3s;");
        var config = new TetherConfig
        {
            Clusters = new Dictionary<string, ClusterConfig>
            {
                ["slow"] = Cluster(TimeSpan.FromSeconds(10)) with { Destinations = [Destination(nginx.Port)] },
                ["fast"] = Cluster(TimeSpan.FromSeconds(2)) with { Destinations = [Destination(nginx.Port)] },
            },
        };
        using var output = new StringWriter();

        var exitCode = await TimeoutChainProbe.RunAsync(config, json: true, output, CancellationToken.None);

        Assert.Equal(1, exitCode);
        var text = output.ToString();
        Assert.Contains("\"id\": \"chain.upstream.slow.127.0.0.1:" + nginx.Port + "\"", text, StringComparison.Ordinal);
        using var json = System.Text.Json.JsonDocument.Parse(text);
        var checks = json.RootElement.GetProperty("sections")[0].GetProperty("checks").EnumerateArray().ToList();
        Assert.Equal("fail", checks.Single(c => c.GetProperty("id").GetString()!.StartsWith("chain.upstream.slow", StringComparison.Ordinal)).GetProperty("verdict").GetString());
        Assert.Equal("pass", checks.Single(c => c.GetProperty("id").GetString()!.StartsWith("chain.upstream.fast", StringComparison.Ordinal)).GetProperty("verdict").GetString());
    }

    private static ClusterConfig Cluster(TimeSpan poolIdle) =>
        new() { Destinations = [_destination], Pool = new PoolConfig { IdleTimeout = poolIdle }, TcpKeepAlive = null };

    private static DestinationConfig Destination(int port) => new() { Address = $"127.0.0.1:{port}", Host = "127.0.0.1", Port = port };

    private static DestinationIdle Measured(double seconds, double uncertainty) => new(
        new IdleTimeoutEstimate { Kind = IdleTimeoutKind.Measured, Value = TimeSpan.FromSeconds(seconds), Uncertainty = TimeSpan.FromSeconds(uncertainty) },
        null);
}
