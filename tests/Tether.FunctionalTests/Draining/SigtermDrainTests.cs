using System.Diagnostics;
using System.Net.Sockets;
using Tether.FunctionalTests.Infrastructure;

namespace Tether.FunctionalTests.Draining;

/// <summary>The real tether process under steady load, stopped with SIGTERM.</summary>
public sealed class SigtermDrainTests : IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tether-drain-").FullName;
    private NamedOrigin _origin = null!;

    public async Task InitializeAsync() => _origin = await NamedOrigin.StartAsync("origin");

    public async Task DisposeAsync()
    {
        await _origin.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    private static bool Refuses(Uri listener)
    {
        try
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            socket.Connect(listener.Host, listener.Port);
            return false;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return true;
        }
    }

    [Fact]
    public async Task Sigterm_under_load_finishes_every_started_request_refuses_new_connections_and_exits_0()
    {
        var timeout = TimeSpan.FromSeconds(5);
        var (tether, listener, admin) = await TetherProcess.StartAsync(WriteConfig("5s"));
        await using var _ = tether;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        await using var load = new LoadLoop(listener, connections: 16, path: "/?ms=2");

        await Poll.UntilAsync(() => load.Count > 500);
        Assert.Equal("ready\n", await http.GetStringAsync(new Uri(admin, "/readyz")));

        // A long request, in flight across the whole drain: it must complete, not be cut. Started after the load
        // is up (on a busy machine that takes seconds), and signalled once the origin has it.
        var before = _origin.Requests;
        var slow = http.GetStringAsync(new Uri(listener, "/?ms=3000"));
        await Poll.UntilAsync(() => _origin.Requests > before && !slow.IsCompleted);

        var signalledAt = Stopwatch.GetTimestamp();
        tether.Signal("TERM");

        // New connections are refused while the slow request still runs: wait for the listener to close (the event),
        // then check the slow request is still running.
        await Poll.UntilAsync(() => Refuses(listener));
        Assert.False(slow.IsCompleted, "the slow request ended before the check; the test proves nothing");

        Assert.Equal("origin", await slow);
        var exit = await tether.WaitForExitAsync(timeout + TimeSpan.FromSeconds(1) - Stopwatch.GetElapsedTime(signalledAt));
        var elapsed = Stopwatch.GetElapsedTime(signalledAt);
        await load.StopAsync();

        Assert.True(exit == 0, $"exit code {exit?.ToString() ?? "none (still running)"} after {elapsed}\n{tether.Output}");
        Assert.True(elapsed < timeout + TimeSpan.FromSeconds(1), $"exited after {elapsed}");
        var failed = load.FailedBefore(signalledAt);
        Assert.True(failed.Count == 0, $"{failed.Count} request(s) started before SIGTERM failed, e.g. {failed.FirstOrDefault()}");
        Assert.Contains("request(s) completed", tether.Output, StringComparison.Ordinal);
        Assert.Contains("0 request(s) aborted", tether.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_still_running_at_drain_timeout_is_aborted_and_the_process_exits_0_in_time()
    {
        var (tether, listener, _) = await TetherProcess.StartAsync(WriteConfig("1s"));
        await using var _ = tether;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var stuck = http.GetStringAsync(new Uri(listener, "/?ms=20000"));
        await Poll.UntilAsync(() => _origin.Requests > 0);

        var signalledAt = Stopwatch.GetTimestamp();
        tether.Signal("TERM");
        var exit = await tether.WaitForExitAsync(TimeSpan.FromSeconds(2));

        Assert.True(exit == 0, $"exit code {exit?.ToString() ?? "none (still running)"}\n{tether.Output}");
        Assert.InRange(Stopwatch.GetElapsedTime(signalledAt), TimeSpan.FromSeconds(1) - Timers.EarlyFire, TimeSpan.FromSeconds(2));
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => stuck);
        Assert.Contains("1 request(s) aborted", tether.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_second_signal_aborts_the_drain_at_once()
    {
        var (tether, listener, _) = await TetherProcess.StartAsync(WriteConfig("30s"));
        await using var _ = tether;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var stuck = http.GetStringAsync(new Uri(listener, "/?ms=20000"));
        await Poll.UntilAsync(() => _origin.Requests > 0);

        tether.Signal("TERM");
        await Task.Delay(200);
        var secondAt = Stopwatch.GetTimestamp();
        // SIGTERM again, not SIGINT: a shell without job control starts background jobs with SIGINT ignored, and
        // .NET then installs no SIGINT handler, so under such a runner the second signal would never arrive.
        tether.Signal("TERM");
        var exit = await tether.WaitForExitAsync(TimeSpan.FromSeconds(3));

        Assert.True(exit == 0, $"exit code {exit?.ToString() ?? "none (still running)"}\n{tether.Output}");
        Assert.True(Stopwatch.GetElapsedTime(secondAt) < TimeSpan.FromSeconds(2), $"{Stopwatch.GetElapsedTime(secondAt)}");
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => stuck);
    }

    private string WriteConfig(string drainTimeout)
    {
        var path = Path.Combine(_folder, $"tether-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, $$"""
            {
              "listeners": [{ "address": "127.0.0.1:0", "protocols": "http1" }],
              "admin": { "address": "127.0.0.1:0" },
              "routes": [{ "cluster": "app" }],
              "clusters": { "app": { "destinations": ["{{_origin.Address}}"] } },
              "drain": { "delay": "0s", "timeout": "{{drainTimeout}}" }
            }
            """);
        return path;
    }
}
