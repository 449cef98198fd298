using System.Diagnostics;
using System.Net;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Tether.Upstream.Destinations;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.LoadBalancing;

/// <summary>Destinations found through a real DNS server (dnsmasq on loopback): TTLs honoured, SRV ports and weights.</summary>
public sealed class DnsRecordTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_changed_A_record_is_followed_after_its_ttl_not_after_resolveInterval()
    {
        await using var first = RawOrigin.Ok();
        await using var second = RawOrigin.OkAt(new IPEndPoint(IPAddress.Parse("127.0.0.2"), first.Port));
        await using var dns = await DnsmasqServer.StartAsync(["127.0.0.1 api.test"], ttlSeconds: 1);
        await using var gateway = await StartAsync(dns, $"api.test:{first.Port}", resolveInterval: "1m");
        using var client = new HttpClient { BaseAddress = gateway.Url };
        var cluster = gateway.Gateway.Model.Clusters[TestGateway.Cluster];
        await Eventually.TrueAsync(() => Names(cluster) == $"127.0.0.1:{first.Port}", "the first answer was not applied");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);

        await dns.SetHostsAsync("127.0.0.2 api.test");
        var changed = Stopwatch.StartNew();
        await Eventually.TrueAsync(() => Names(cluster) == $"127.0.0.2:{first.Port}", "a TTL of 1s was not followed", TimeSpan.FromSeconds(5));
        output.WriteLine($"followed the change after {changed.ElapsedMilliseconds} ms (TTL 1s, resolveInterval 1m)");

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
        Assert.Single(second.Requests);
        Assert.All(cluster.Destinations, d => Assert.Equal("api.test", d.ResolvedFrom));
    }

    [Fact]
    public async Task Srv_records_give_the_ports_and_weights_and_a_removed_record_drains_its_destination()
    {
        await using var a = RawOrigin.Ok();
        await using var b = RawOrigin.Ok();
        string[] both =
        [
            "--host-record=a.test,127.0.0.1", "--host-record=b.test,127.0.0.1",
            $"--srv-host=_http._tcp.api.test,a.test,{a.Port},0,10", $"--srv-host=_http._tcp.api.test,b.test,{b.Port},0,30",
            // A backup of higher priority: not used while priority 0 answers.
            $"--srv-host=_http._tcp.api.test,b.test,{BalancedGateway.ClosedPort()},5,100",
        ];
        await using var dns = await DnsmasqServer.StartAsync([], both);
        await using var gateway = await StartAsync(dns, "srv://_http._tcp.api.test", resolveInterval: "1m");
        using var client = new HttpClient { BaseAddress = gateway.Url };
        var cluster = gateway.Gateway.Model.Clusters[TestGateway.Cluster];
        await Eventually.TrueAsync(() => cluster.Destinations.Count == 2, "the SRV answer was not applied");

        var byPort = cluster.Destinations.ToDictionary(d => ((IPEndPoint)d.EndPoint).Port);
        Assert.Equal(10, byPort[a.Port].Config.Weight);
        Assert.Equal(30, byPort[b.Port].Config.Weight);
        Assert.Equal($"a.test:{a.Port}", byPort[a.Port].HostHeader);
        for (var i = 0; i < 40; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
        }

        Assert.InRange(a.Requests.Count, 5, 15);
        Assert.InRange(b.Requests.Count, 25, 35);

        await dns.RestartAsync([both[0], both[1], both[2]]);
        var leaving = byPort[b.Port];
        await Eventually.TrueAsync(() => cluster.Destinations.Count == 1, "the removed SRV record was not followed", TimeSpan.FromSeconds(5));
        Assert.True(leaving.IsDraining);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
    }

    private static string Names(ClusterState cluster) => string.Join(",", cluster.Destinations.Select(d => d.Name));

    private Task<TestGateway> StartAsync(DnsmasqServer dns, string destination, string resolveInterval)
    {
        var json = $$"""
            {
              "listeners": [{ "address": "127.0.0.1:0", "protocols": "http1" }],
              "admin": { "address": "" },
              "dns": { "servers": ["{{dns.Address}}"] },
              "routes": [{ "cluster": "app" }],
              "clusters": { "app": { "destinations": ["{{destination}}"], "loadBalancing": "roundRobin",
                "resolveInterval": "{{resolveInterval}}", "resolveMinInterval": "200ms" } }
            }
            """;
        var result = ConfigLoader.Parse(json);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        return TestGateway.StartAsync(result.Config!, output: output);
    }
}
