namespace Tether.Configuration.Tests;

/// <summary>Every file in examples/ loads without errors, and tether.json says what it means to.</summary>
public class ExampleFilesTests
{
    public static TheoryData<string> ExampleFiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(ExamplesFolder()))
        {
            if (file.EndsWith(".json", StringComparison.Ordinal) || file.EndsWith(".yaml", StringComparison.Ordinal))
            {
                data.Add(Path.GetFileName(file));
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ExampleFiles))]
    public void Example_loads_without_errors(string fileName)
    {
        var result = ConfigLoader.LoadFile(Path.Combine(ExamplesFolder(), fileName));
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
    }

    [Fact]
    public void Tether_json_reads_as_written()
    {
        var config = ConfigLoader.LoadFile(Path.Combine(ExamplesFolder(), "tether.json")).Config!;

        Assert.Equal(["0.0.0.0:8080", "[::1]:8081"], config.Listeners.Select(l => l.Address));
        Assert.Equal(ListenerProtocols.Http1, config.Listeners[1].Protocols);
        Assert.Equal(TimeSpan.FromHours(1), config.Downstream.MaxConnectionLifetime);
        Assert.True(config.Downstream.AdvertiseKeepAlive);
        Assert.Equal(4, config.Routes.Count);
        Assert.Equal("api.example.com", config.Routes[0].Match.Host);
        Assert.Equal("/v1", config.Routes[0].Match.PathPrefix);
        Assert.Equal(["api", "web"], config.Clusters.Keys.Order());

        var api = config.Clusters["api"];
        Assert.Equal(3, api.Destinations.Count);
        Assert.Equal(("10.0.0.12", 9001, 2), (api.Destinations[2].Host, api.Destinations[2].Port, api.Destinations[2].Weight));
        Assert.Equal(TimeSpan.FromSeconds(4), api.Pool.IdleTimeout);
        Assert.Equal(256, api.Pool.MaxConnectionsPerDestination);
        Assert.Equal(4, api.TcpKeepAlive!.Probes);

        var web = config.Clusters["web"];
        Assert.Equal(LoadBalancingPolicyNames.RoundRobin, web.LoadBalancing);
        Assert.Null(web.Pool.MaxLifetime);
        Assert.Equal(TimeSpan.FromSeconds(60), config.Chain.FrontIdleTimeout);
    }

    [Fact]
    public void Grpc_json_reads_as_written()
    {
        var config = ConfigLoader.LoadFile(Path.Combine(ExamplesFolder(), "grpc.json")).Config!;

        var orders = config.Clusters["orders"];
        Assert.Equal(UpstreamProtocol.Http2, orders.Protocol);
        Assert.DoesNotContain(orders.Destinations, d => d.UseTls);

        var billing = config.Clusters["billing"];
        Assert.Equal(UpstreamProtocol.Http2, billing.Protocol);
        Assert.All(billing.Destinations, d => Assert.True(d.UseTls));
        Assert.Equal(new UpstreamTlsConfig { ServerName = "billing.internal", MinVersion = TlsMinimumVersion.Tls13 }, billing.Tls);
        Assert.Equal(TimeSpan.FromSeconds(10), billing.Http2.PingTimeout);
        Assert.Equal(8, billing.Pool.MaxConnectionsPerDestination);

        var web = config.Clusters["web"];
        Assert.Equal(UpstreamProtocol.Auto, web.Protocol);
        Assert.Equal(("web.internal", 443, true), (web.Destinations[0].Host, web.Destinations[0].Port, web.Destinations[0].UseTls));
    }

    [Fact]
    public void Tether_json_round_trips_through_the_writer()
    {
        var config = ConfigLoader.LoadFile(Path.Combine(ExamplesFolder(), "tether.json")).Config!;
        var json = ConfigWriter.ToJson(config);
        var again = ConfigLoader.Parse(json);
        Assert.True(again.Succeeded, string.Join("\n", again.Errors));
        Assert.Equal(json, ConfigWriter.ToJson(again.Config!));
    }

    internal static string ExamplesFolder()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Tether.slnx")))
            {
                return Path.Combine(folder.FullName, "examples");
            }
        }

        throw new InvalidOperationException("Tether.slnx not found above " + AppContext.BaseDirectory);
    }
}
