using System.Diagnostics;
using System.Net.Sockets;
using Tether.FunctionalTests.Draining;

namespace Tether.FunctionalTests.Reload;

public sealed class ReloadTests : IAsyncLifetime
{
    private NamedOrigin _a = null!;
    private NamedOrigin _b = null!;

    public async Task InitializeAsync()
    {
        _a = await NamedOrigin.StartAsync("a");
        _b = await NamedOrigin.StartAsync("b");
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    [Fact]
    public async Task Twenty_reloads_under_load_valid_and_invalid_mixed_fail_no_request_and_invalid_ones_change_nothing()
    {
        var one = ReloadingGateway.Config([_a.Address]);
        var two = ReloadingGateway.Config([_a.Address, _b.Address]);
        var invalid = ReloadingGateway.Config([_a.Address], pool: """{ "idleTimeout": "soon" }""");
        await using var gateway = await ReloadingGateway.StartAsync(one);
        await using var load = new LoadLoop(gateway.Gateway.ListenerUrls[0], connections: 8);
        await Poll.UntilAsync(() => load.Count > 200);

        var applied = 0;
        var rejected = 0;
        for (var i = 0; i < 20; i++)
        {
            var before = gateway.Gateway.Config;
            if (i % 3 == 2)
            {
                var result = await gateway.ReloadAsync(invalid);
                Assert.False(result.Ok);
                Assert.Contains(result.Errors, e => e.Contains("idleTimeout", StringComparison.Ordinal));
                Assert.Same(before, gateway.Gateway.Config);
                rejected++;
            }
            else
            {
                var result = await gateway.ReloadAsync(i % 2 == 0 ? two : one);
                Assert.True(result.Ok, string.Join("\n", result.Errors));
                Assert.NotSame(before, gateway.Gateway.Config);
                applied++;
            }

            var served = load.Count;
            await Poll.UntilAsync(() => load.Count > served + 50);
        }

        await load.StopAsync();
        var failed = load.FailedBefore(long.MaxValue);
        Assert.True(failed.Count == 0, $"{failed.Count} of {load.Count} requests failed, e.g. {failed.FirstOrDefault()}");
        Assert.Equal(14, applied);
        Assert.Equal(6, rejected);
        Assert.True(_b.Requests > 0, "the two-destination config never served from b");

        // The last reload was the valid "one" (i = 19): /status shows it; an invalid one then shows its errors.
        await gateway.ReloadAsync(invalid);
        using var http = new HttpClient();
        var status = await http.GetStringAsync(new Uri(gateway.Gateway.AdminUrl!, "/status"));
        Assert.Contains("\"lastReload\"", status, StringComparison.Ordinal);
        Assert.Contains("\"ok\": false", status, StringComparison.Ordinal);
        Assert.Contains("idleTimeout", status, StringComparison.Ordinal);
        Assert.Single(gateway.Gateway.Config.Clusters["app"].Destinations);
    }

    [Fact]
    public async Task An_unchanged_cluster_keeps_its_state_and_warm_pool()
    {
        await using var gateway = await ReloadingGateway.StartAsync(ReloadingGateway.Config([_a.Address]));
        using var http = new HttpClient { BaseAddress = gateway.Gateway.ListenerUrls[0] };
        Assert.Equal("a", await http.GetStringAsync("/"));
        var cluster = gateway.Gateway.Model.Clusters["app"];

        var result = await gateway.ReloadAsync(ReloadingGateway.Config([_a.Address], extra: """, "downstream": { "maxRequestsPerConnection": 50 }"""));

        Assert.True(result.Ok, string.Join("\n", result.Errors));
        Assert.Equal(50, gateway.Gateway.Config.Downstream.MaxRequestsPerConnection);
        Assert.Same(cluster, gateway.Gateway.Model.Clusters["app"]);
        Assert.Equal("a", await http.GetStringAsync("/"));
        Assert.Equal(1, cluster.Destinations[0].Pool.Statistics.Created);
    }

    [Fact]
    public async Task Added_listeners_start_and_removed_ones_drain_without_touching_the_connections_of_those_that_stayed()
    {
        const string Listener = """{ "address": "127.0.0.1:0", "protocols": "http1" }""";
        await using var gateway = await ReloadingGateway.StartAsync(ReloadingGateway.Config([_a.Address], listeners: $"[{Listener}]"));
        var first = gateway.Gateway.ListenerUrls[0];
        using var kept = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1 }) { BaseAddress = first };
        Assert.Equal("a", await kept.GetStringAsync("/"));
        var accepted = gateway.Gateway.Downstream.Accepted;

        var added = await gateway.ReloadAsync(ReloadingGateway.Config([_a.Address], listeners: $"[{Listener}, {Listener}]"));
        Assert.True(added.Ok, string.Join("\n", added.Errors));
        Assert.Equal(2, gateway.Gateway.ListenerUrls.Count);
        Assert.Equal(first, gateway.Gateway.ListenerUrls[0]);
        var second = gateway.Gateway.ListenerUrls[1];
        using (var fresh = new HttpClient { BaseAddress = second })
        {
            Assert.Equal("a", await fresh.GetStringAsync("/"));
        }

        var removed = await gateway.ReloadAsync(ReloadingGateway.Config([_a.Address], listeners: $"[{Listener}]"));
        Assert.True(removed.Ok, string.Join("\n", removed.Errors));
        Assert.Equal([first], gateway.Gateway.ListenerUrls);
        await Poll.UntilAsync(() => !Accepts(second));

        // The client of the listener that stayed still uses its one connection: one accept in all, by `fresh`.
        Assert.Equal("a", await kept.GetStringAsync("/"));
        Assert.Equal(accepted + 1, gateway.Gateway.Downstream.Accepted);
    }

    [Fact]
    public async Task A_destination_added_at_runtime_gets_traffic_from_existing_keep_alive_clients_and_a_spread_fraction_is_recycled()
    {
        // A connection is recycled on its first response after its moment within the window; one that sends
        // nothing until the window is over is left alone. 2 s leaves a loaded machine room for several rounds.
        var recycle = """, "recycle": { "window": "2s" }""";
        await using var gateway = await ReloadingGateway.StartAsync(ReloadingGateway.Config([_a.Address], extra: recycle));
        var clients = new HttpClient[20];
        for (var i = 0; i < clients.Length; i++)
        {
            clients[i] = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1 }) { BaseAddress = gateway.Gateway.ListenerUrls[0] };
            Assert.Equal("a", await clients[i].GetStringAsync("/"));
        }

        var accepted = gateway.Gateway.Downstream.Accepted;
        var result = await gateway.ReloadAsync(ReloadingGateway.Config([_a.Address, _b.Address], extra: recycle));
        Assert.True(result.Ok, string.Join("\n", result.Errors));
        var reloadedAt = Stopwatch.GetTimestamp();

        // Every client keeps sending over its keep-alive connection for the window and a little more.
        var closedBy = new bool[clients.Length];
        var servedByB = 0;
        while (Stopwatch.GetElapsedTime(reloadedAt) < TimeSpan.FromSeconds(2.2))
        {
            for (var i = 0; i < clients.Length; i++)
            {
                using var response = await clients[i].GetAsync("/");
                var body = await response.Content.ReadAsStringAsync();
                Assert.True(response.IsSuccessStatusCode, body);
                servedByB += body == "b" && Stopwatch.GetElapsedTime(reloadedAt) < TimeSpan.FromSeconds(2) ? 1 : 0;
                closedBy[i] |= response.Headers.ConnectionClose == true;
            }

            await Task.Delay(20);
        }

        var recycled = closedBy.Count(c => c);
        Assert.True(servedByB > 0, "the new destination got no traffic within recycle.window");

        // One destination added to one: half the connections that existed are recycled (binomial: 20 × ½).
        // (Seen once in CI: 0 recycled. The message says whether the clients were on new connections.)
        Assert.True(recycled is >= 2 and <= 18,
            $"{recycled} of 20 clients saw Connection: close; recycler counted {gateway.Gateway.Recycler.Recycled}; "
            + $"{gateway.Gateway.Downstream.Accepted - accepted} connections accepted since the reload; {servedByB} served by b");
        Assert.Equal(recycled, gateway.Gateway.Recycler.Recycled);
        Assert.Equal(accepted + recycled, gateway.Gateway.Downstream.Accepted);
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }

    [Fact]
    public async Task A_change_of_the_config_file_is_reloaded_once_it_settles()
    {
        await using var gateway = await ReloadingGateway.StartAsync(ReloadingGateway.Config([_a.Address]), watch: true);

        await File.WriteAllTextAsync(gateway.Path, ReloadingGateway.Config([_b.Address]));

        await Poll.UntilAsync(() => gateway.Gateway.LastReload is { Ok: true });
        Assert.Equal("config file changed", gateway.Gateway.LastReload!.Trigger);
        using var http = new HttpClient { BaseAddress = gateway.Gateway.ListenerUrls[0] };
        Assert.Equal("b", await http.GetStringAsync("/"));
    }

    /// <summary>`sed -i` then SIGHUP: the signal reloads the new bytes, and the watcher, firing for the same write a
    /// moment later, finds nothing new and reloads nothing (it used to apply the same config twice).</summary>
    [Fact]
    public async Task A_file_change_already_reloaded_by_a_signal_is_not_reloaded_twice()
    {
        await using var gateway = await ReloadingGateway.StartAsync(ReloadingGateway.Config([_a.Address]), watch: true);

        await File.WriteAllTextAsync(gateway.Path, ReloadingGateway.Config([_b.Address]));
        var signalled = await gateway.Gateway.ReloadAsync("SIGHUP");
        Assert.True(signalled.Ok);

        await Poll.UntilAsync(() => gateway.Gateway.UnchangedFileSkips >= 1);
        Assert.Same(signalled, gateway.Gateway.LastReload);
        using var http = new HttpClient { BaseAddress = gateway.Gateway.ListenerUrls[0] };
        Assert.Equal("b", await http.GetStringAsync("/"));
    }

    [Fact]
    public async Task A_yaml_config_reloads_on_a_signal_and_on_a_file_change_and_an_invalid_one_changes_nothing()
    {
        await using var gateway = await ReloadingGateway.StartAsync(ReloadingGateway.YamlConfig([_a.Address]), watch: true, fileName: "tether.yaml");
        using var http = new HttpClient { BaseAddress = gateway.Gateway.ListenerUrls[0] };
        Assert.Equal("a", await http.GetStringAsync("/"));

        await File.WriteAllTextAsync(gateway.Path, ReloadingGateway.YamlConfig([_a.Address], idleTimeout: "soon"));
        var invalid = await gateway.Gateway.ReloadAsync("SIGHUP");
        Assert.False(invalid.Ok);
        Assert.Contains(invalid.Errors, e => e.Contains("clusters.app.pool.idleTimeout = \"soon\"", StringComparison.Ordinal) && e.EndsWith("(line 13, column 7)", StringComparison.Ordinal));
        Assert.Equal("a", await http.GetStringAsync("/"));

        await File.WriteAllTextAsync(gateway.Path, ReloadingGateway.YamlConfig([_b.Address]));
        await Poll.UntilAsync(() => gateway.Gateway.LastReload is { Ok: true, Trigger: "config file changed" });
        Assert.Equal("b", await http.GetStringAsync("/"));
    }

    private static bool Accepts(Uri url)
    {
        try
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            socket.Connect(url.Host, url.Port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
