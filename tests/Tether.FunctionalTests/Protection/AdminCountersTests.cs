using System.Net.Http;
using System.Text.Json;
using Tether.Configuration;
using Tether.Gateway;

namespace Tether.FunctionalTests.Protection;

public class AdminCountersTests
{
    [Fact]
    public async Task Status_and_metrics_list_connections_closed_by_reason()
    {
        var origin = new RecordingOrigin();
        await using var ownedOrigin = origin;
        AddressParser.TryParseDestination(origin.Address, 1, out var destination, out _);
        var config = new TetherConfig
        {
            Listeners = [new ListenerConfig { Address = "127.0.0.1:0", Protocols = ListenerProtocols.Http1 }],
            Downstream = new DownstreamConfig { MaxConnectionsPerClient = 1 },
            Routes = [new RouteConfig { Cluster = "origin" }],
            Clusters = new Dictionary<string, ClusterConfig> { ["origin"] = new() { Destinations = [destination] } },
            Admin = new AdminConfig { Address = "127.0.0.1:0" },
        };
        await using var gateway = await TetherGateway.StartAsync(Tether.Testing.TestEngine.Apply(config));
        var port = gateway.ListenerUrls[0].Port;
        using var first = new System.Net.Sockets.TcpClient("127.0.0.1", port);
        await first.GetStream().WriteAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
        Assert.True(await first.GetStream().ReadAsync(new byte[256]) > 0);
        using (var second = new System.Net.Sockets.TcpClient("127.0.0.1", port))
        {
            await second.GetStream().WriteAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
            Assert.Equal(0, await second.GetStream().ReadAsync(new byte[256]));
        }

        using var http = new HttpClient { BaseAddress = gateway.AdminUrl };
        using var status = JsonDocument.Parse(await http.GetStringAsync(new Uri("/status", UriKind.Relative)));
        var closed = status.RootElement.GetProperty("connections").GetProperty("closed");
        Assert.Equal(1, closed.GetProperty("perClientLimit").GetInt64());
        Assert.Equal(0, closed.GetProperty("slowHeaders").GetInt64());
        Assert.Equal(0, closed.GetProperty("proxyProtocolInvalid").GetInt64());

        var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("tether_connections_closed_total{reason=\"perClientLimit\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("tether_connections_closed_total{reason=\"slowRead\"} 0\n", metrics, StringComparison.Ordinal);
    }
}
