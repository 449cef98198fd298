using Tether.FunctionalTests.Draining;
using Tether.FunctionalTests.Infrastructure;

namespace Tether.FunctionalTests.Observability;

/// <summary>The real tether process: SIGUSR1 reopens the access log file, as nginx's USR1 does for logrotate.</summary>
public sealed class AccessLogSignalTests : IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tether-usr1-").FullName;
    private NamedOrigin _origin = null!;

    private string LogFile => Path.Combine(_folder, "access.log");

    public async Task InitializeAsync() => _origin = await NamedOrigin.StartAsync("origin");

    public async Task DisposeAsync()
    {
        await _origin.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task Sigusr1_reopens_the_access_log_after_logrotate_moved_it_and_the_process_keeps_serving()
    {
        var config = Path.Combine(_folder, "tether.json");
        File.WriteAllText(config, $$"""
            {
              "listeners": [{ "address": "127.0.0.1:0", "protocols": "http1" }],
              "admin": { "address": "127.0.0.1:0" },
              "routes": [{ "cluster": "app" }],
              "clusters": { "app": { "destinations": ["{{_origin.Address}}"] } },
              "accessLog": { "path": "access.log" }
            }
            """);
        var (tether, listener, _) = await TetherProcess.StartAsync(config);
        await using var _ = tether;
        using var http = new HttpClient { BaseAddress = listener, Timeout = TimeSpan.FromSeconds(10) };

        Assert.Equal("origin", await http.GetStringAsync("/before"));
        await Eventually.TrueAsync(() => File.Exists(LogFile) && File.ReadAllText(LogFile).Contains("/before", StringComparison.Ordinal), "no line for /before");
        File.Move(LogFile, LogFile + ".1");

        tether.Signal("USR1");
        await Eventually.TrueAsync(() => tether.Output.Contains("reopened", StringComparison.Ordinal), "no reopen logged:\n" + tether.Output);
        Assert.Equal("origin", await http.GetStringAsync("/after"));

        await Eventually.TrueAsync(() => File.Exists(LogFile) && File.ReadAllText(LogFile).Contains("/after", StringComparison.Ordinal), "no line for /after in a new file");
        Assert.DoesNotContain("/before", File.ReadAllText(LogFile), StringComparison.Ordinal);
        Assert.DoesNotContain("/after", File.ReadAllText(LogFile + ".1"), StringComparison.Ordinal);
        Assert.Contains("received SIGUSR1", tether.Output, StringComparison.Ordinal);
        Assert.Null(await tether.WaitForExitAsync(TimeSpan.FromMilliseconds(100)));
    }
}
