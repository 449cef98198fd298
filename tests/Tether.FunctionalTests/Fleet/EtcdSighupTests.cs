using System.Diagnostics;
using System.Text.Json;
using Tether.FunctionalTests.Draining;
using Tether.FunctionalTests.Infrastructure;

namespace Tether.FunctionalTests.Fleet;

/// <summary>SIGHUP (and POST /reload) with the config in etcd: the real tether process reads the key again, now.</summary>
public sealed class EtcdSighupTests : IAsyncLifetime
{
    private const string Prefix = "/tether/hup";
    private EtcdServer _etcd = null!;

    public async Task InitializeAsync() => _etcd = await EtcdServer.StartAsync();

    public async Task DisposeAsync() => await _etcd.DisposeAsync();

    [Fact]
    public async Task Sighup_reads_the_etcd_key_again_and_applies_it_with_its_revision()
    {
        var revision = await _etcd.PutAsync(Prefix + "/config", """
            {
              "listeners": [{ "address": "127.0.0.1:0", "protocols": "http1" }],
              "admin": { "address": "127.0.0.1:0" },
              "routes": [{ "respond": { "status": 200, "body": "hup" } }]
            }
            """);
        var (tether, listener, admin) = await TetherProcess.StartAsync($"etcd://{_etcd.Endpoint}{Prefix}");
        await using var _ = tether;
        using var http = new HttpClient();
        Assert.Equal("hup", await http.GetStringAsync(listener));

        tether.Signal("HUP");
        var reload = await LastReloadAsync(http, admin, r => r.GetProperty("trigger").GetString()!.StartsWith("SIGHUP", StringComparison.Ordinal), tether);
        Assert.True(reload.GetProperty("ok").GetBoolean(), reload.ToString());
        Assert.Equal($"SIGHUP (etcd revision {revision})", reload.GetProperty("trigger").GetString());
        Assert.Equal(revision, reload.GetProperty("revision").GetInt64());

        // POST /reload takes the same path.
        using var posted = await http.PostAsync(new Uri(admin, "/reload"), null);
        Assert.True(posted.IsSuccessStatusCode, await posted.Content.ReadAsStringAsync());
        var again = await LastReloadAsync(http, admin, r => r.GetProperty("trigger").GetString()!.StartsWith("POST", StringComparison.Ordinal), tether);
        Assert.True(again.GetProperty("ok").GetBoolean(), again.ToString());
        Assert.Equal(revision, again.GetProperty("revision").GetInt64());
    }

    private static async Task<JsonElement> LastReloadAsync(HttpClient http, Uri admin, Func<JsonElement, bool> condition, TetherProcess tether)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            using var status = JsonDocument.Parse(await http.GetStringAsync(new Uri(admin, "/status")));
            if (status.RootElement.GetProperty("lastReload") is { ValueKind: JsonValueKind.Object } reload && condition(reload))
            {
                return reload.Clone();
            }

            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(10), "no such reload within 10 s:\n" + tether.Output);
            await Task.Delay(50);
        }
    }
}
