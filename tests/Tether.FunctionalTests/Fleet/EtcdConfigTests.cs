using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Tether.Gateway.Reload;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Fleet;

/// <summary>etcd as the config source, against a real etcd-server started by the test.</summary>
public sealed class EtcdConfigTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Prefix = "/tether/test";
    private EtcdServer _etcd = null!;
    private RawOrigin _first = null!;
    private RawOrigin _second = null!;

    public async Task InitializeAsync()
    {
        _etcd = await EtcdServer.StartAsync();
        _first = RawOrigin.Serve((_, c) => c.RespondAsync(200, "first"));
        _second = RawOrigin.Serve((_, c) => c.RespondAsync(200, "second"));
    }

    public async Task DisposeAsync()
    {
        await _first.DisposeAsync();
        await _second.DisposeAsync();
        await _etcd.DisposeAsync();
    }

    [Fact]
    public async Task A_new_revision_is_applied_and_status_shows_the_revision_running()
    {
        await using var fleet = await StartAsync(_first.Address);
        using var client = new HttpClient { BaseAddress = fleet.Gateway.Url };
        Assert.Equal("first", await client.GetStringAsync("/"));

        var revision = await _etcd.PutAsync(Prefix + "/config", Config(_second.Address));
        await Eventually.TrueAsync(() => fleet.Gateway.Gateway.ConfigRevision == revision, "the new revision was not applied");

        Assert.Equal("second", await client.GetStringAsync("/"));
        Assert.True(fleet.Gateway.Gateway.LastReload!.Ok);
        Assert.Equal(revision, fleet.Gateway.Gateway.LastReload.Revision);
        var status = await client.GetStringAsync(new Uri(fleet.Gateway.AdminUrl, "/status"));
        Assert.Contains($"\"configRevision\": {revision}", status, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_invalid_revision_is_refused_and_the_previous_config_keeps_serving()
    {
        await using var fleet = await StartAsync(_first.Address);
        using var client = new HttpClient { BaseAddress = fleet.Gateway.Url };
        var running = fleet.Gateway.Gateway.ConfigRevision;

        var bad = await _etcd.PutAsync(Prefix + "/config", Config(_second.Address).Replace("\"roundRobin\"", "\"fastest\"", StringComparison.Ordinal));
        await Eventually.TrueAsync(() => fleet.Gateway.Gateway.LastReload?.Revision == bad, "the invalid revision was not seen");

        var reload = fleet.Gateway.Gateway.LastReload!;
        Assert.False(reload.Ok);
        Assert.Contains(reload.Errors, e => e.Contains("clusters.app.loadBalancing", StringComparison.Ordinal));
        Assert.Equal(running, fleet.Gateway.Gateway.ConfigRevision);
        Assert.Equal("first", await client.GetStringAsync("/"));
        var status = await client.GetStringAsync(new Uri(fleet.Gateway.AdminUrl, "/status"));
        Assert.Contains($"\"revision\": {bad}", status, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Losing_etcd_keeps_the_config_serving_and_a_revision_written_after_its_restart_is_applied()
    {
        await using var fleet = await StartAsync(_first.Address);
        using var client = new HttpClient { BaseAddress = fleet.Gateway.Url };

        await _etcd.KillAsync();
        await Eventually.TrueAsync(() => fleet.Gateway.Logs.Named("EtcdLost").Count > 0, "losing etcd was not noticed", TimeSpan.FromSeconds(10));
        Assert.Equal("first", await client.GetStringAsync("/"));

        await _etcd.LaunchAsync();
        var revision = await _etcd.PutAsync(Prefix + "/config", Config(_second.Address));
        await Eventually.TrueAsync(() => fleet.Gateway.Gateway.ConfigRevision == revision, "the revision after the restart was not applied", TimeSpan.FromSeconds(20));
        Assert.Equal("second", await client.GetStringAsync("/"));
    }

    [Fact]
    public async Task Destinations_registered_under_a_prefix_follow_it_and_an_expired_lease_drains_its_destination()
    {
        const string Registry = "/tether/test/clusters/app/";
        var lease = await _etcd.GrantLeaseAsync(2);
        await _etcd.PutAsync(Registry + "first", _first.Address, lease);
        var json = $$"""
            {
              "listeners": [{ "address": "127.0.0.1:0", "protocols": "http1" }],
              "admin": { "address": "" },
              "etcd": { "endpoints": ["{{_etcd.Endpoint}}"] },
              "routes": [{ "cluster": "app" }],
              "clusters": { "app": { "destinationsFrom": { "etcd": "{{Registry}}" }, "loadBalancing": "roundRobin" } }
            }
            """;
        var loaded = ConfigLoader.Parse(json);
        Assert.True(loaded.Succeeded, string.Join("\n", loaded.Errors));
        await using var gateway = await TestGateway.StartAsync(loaded.Config!, output: output);
        using var client = new HttpClient { BaseAddress = gateway.Url };
        var cluster = gateway.Gateway.Model.Clusters["app"];
        await Eventually.TrueAsync(() => cluster.Destinations.Count == 1, "the registered destination did not appear");
        Assert.Equal("first", await client.GetStringAsync("/"));

        await _etcd.PutAsync(Registry + "second", _second.Address);
        await Eventually.TrueAsync(() => cluster.Destinations.Count == 2, "the second registration did not appear");
        var leaving = cluster.Destinations.Single(d => d.Name == _first.Address);

        // Nobody keeps the lease alive: etcd deletes the key when it expires, and the destination drains.
        var failed = 0;
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (cluster.Destinations.Count != 1)
        {
            using var response = await client.GetAsync("/");
            failed += response.IsSuccessStatusCode ? 0 : 1;
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(15), "the 2 s lease did not expire within 15 s");
        }

        output.WriteLine($"lease expiry followed {waited.ElapsedMilliseconds} ms after the second registration");

        Assert.Equal(_second.Address, cluster.Destinations[0].Name);
        Assert.True(leaving.IsDraining);
        Assert.Equal(0, failed);
        Assert.Equal("second", await client.GetStringAsync("/"));
    }

    private static string Config(string destination) => $$"""
        {
          "listeners": [{ "address": "127.0.0.1:0", "protocols": "http1" }],
          "admin": { "address": "127.0.0.1:0" },
          "routes": [{ "cluster": "app" }],
          "clusters": { "app": { "destinations": ["{{destination}}"], "loadBalancing": "roundRobin" } }
        }
        """;

    private async Task<Fleet> StartAsync(string destination)
    {
        await _etcd.PutAsync(Prefix + "/config", Config(destination));
        Assert.True(EtcdLocation.TryParse($"etcd://{_etcd.Endpoint}{Prefix}", out var location, out var error), error);
        var source = new EtcdConfigSource(location!, NullLogger.Instance);
        var (json, revision) = await source.ReadAsync(CancellationToken.None);
        var loaded = ConfigLoader.Parse(json);
        Assert.True(loaded.Succeeded, string.Join("\n", loaded.Errors));
        var gateway = await TestGateway.StartAsync(loaded.Config!, output: output);
        gateway.Gateway.SetStartRevision(revision);
        var watched = new EtcdConfigSource(location!, gateway.Logs.CreateLogger("Tether.Gateway.Reload.EtcdConfigSource"));
        watched.Start(gateway.Gateway, revision);
        await source.DisposeAsync();
        return new Fleet(gateway, watched);
    }

    private sealed record Fleet(TestGateway Gateway, EtcdConfigSource Source) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Source.DisposeAsync();
            await Gateway.DisposeAsync();
        }
    }
}
