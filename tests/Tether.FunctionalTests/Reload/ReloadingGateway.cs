using Tether.Configuration;
using Tether.Gateway;

namespace Tether.FunctionalTests.Reload;

/// <summary>A gateway started from a config file in a temp folder, which a test rewrites and reloads.</summary>
internal sealed class ReloadingGateway : IAsyncDisposable
{
    private readonly string _folder;

    private ReloadingGateway(string folder, string path, TetherGateway gateway)
    {
        _folder = folder;
        Path = path;
        Gateway = gateway;
    }

    public string Path { get; }

    public TetherGateway Gateway { get; }

    public static async Task<ReloadingGateway> StartAsync(string json, bool watch = false, string fileName = "tether.json")
    {
        var folder = Directory.CreateTempSubdirectory("tether-reload-").FullName;
        var path = System.IO.Path.Combine(folder, fileName);
        await File.WriteAllTextAsync(path, json);
        var loaded = ConfigLoader.LoadFile(path);
        Assert.True(loaded.Succeeded, string.Join("\n", loaded.Errors));
        var options = new GatewayOptions { ConfigPath = path, WatchConfigFile = watch, ReloadDebounce = TimeSpan.FromMilliseconds(100) };
        return new ReloadingGateway(folder, path, await TetherGateway.StartAsync(Tether.Testing.TestEngine.Apply(loaded.Config!), Tether.Testing.TestEngine.Apply(options)));
    }

    /// <summary>A config with one cluster "app" over <paramref name="destinations"/>; extra top-level JSON may follow.</summary>
    public static string Config(IEnumerable<string> destinations, string listeners = """[{ "address": "127.0.0.1:0", "protocols": "http1" }]""", string extra = "", string pool = "{}") => $$"""
        {
          "listeners": {{listeners}},
          "admin": { "address": "127.0.0.1:0" },
          "routes": [{ "cluster": "app" }],
          "clusters": { "app": { "destinations": [{{string.Join(", ", destinations.Select(d => $"\"{d}\""))}}], "pool": {{pool}} } }
          {{extra}}
        }
        """;

    /// <summary>The same config as <see cref="Config"/>, in block YAML.</summary>
    public static string YamlConfig(IEnumerable<string> destinations, string idleTimeout = "60s") => $"""
        listeners:
          - address: 127.0.0.1:0
            protocols: http1
        admin:
          address: 127.0.0.1:0
        routes:
          - cluster: app
        clusters:
          app:
            destinations:
        {string.Concat(destinations.Select(d => $"      - {d}\n"))}    pool:
              idleTimeout: {idleTimeout}
        """;

    public async Task<Gateway.Reload.ReloadResult> ReloadAsync(string json)
    {
        await File.WriteAllTextAsync(Path, json);
        return await Gateway.ReloadAsync("test");
    }

    public async ValueTask DisposeAsync()
    {
        await Gateway.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }
}
