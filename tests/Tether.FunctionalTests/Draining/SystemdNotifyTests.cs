using System.Net.Sockets;
using System.Text;

namespace Tether.FunctionalTests.Draining;

/// <summary>
/// The tether process as systemd runs a Type=notify unit: NOTIFY_SOCKET names a datagram socket the test binds,
/// as systemd does, and reads READY=1 once the listeners are up and STOPPING=1 when a drain starts.
/// </summary>
public sealed class SystemdNotifyTests : IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tether-notify-").FullName;
    private NamedOrigin _origin = null!;

    public async Task InitializeAsync() => _origin = await NamedOrigin.StartAsync("origin");

    public async Task DisposeAsync()
    {
        await _origin.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task Ready_is_sent_once_listening_and_stopping_when_a_drain_starts_and_logs_carry_journal_priorities()
    {
        var socketPath = Path.Combine(_folder, "notify");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(socketPath));
        var config = Path.Combine(_folder, "tether.json");
        await File.WriteAllTextAsync(config, $$"""
            {
              "listeners": [{ "address": "127.0.0.1:0", "protocols": "http1" }],
              "admin": { "address": "127.0.0.1:0" },
              "routes": [{ "cluster": "app" }],
              "clusters": { "app": { "destinations": ["{{_origin.Address}}"] } }
            }
            """);

        var (tether, listener, admin) = await TetherProcess.StartAsync(config, new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = socketPath,
            ["JOURNAL_STREAM"] = "8:12345", // what systemd sets when stdout is the journal
        });
        await using var _ = tether;

        Assert.Equal("READY=1", await ReceiveAsync(notify));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        Assert.Equal("origin", await http.GetStringAsync(listener));

        // POST /drain, not a signal: every way a drain starts tells systemd.
        using var drain = await http.PostAsync(new Uri(admin, "/drain"), null);
        Assert.Equal("STOPPING=1", await ReceiveAsync(notify));
        Assert.Equal(0, await tether.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains(tether.Output.Split('\n'), line => line.StartsWith("<6>", StringComparison.Ordinal) && line.Contains("listening on", StringComparison.Ordinal));
    }

    private static async Task<string> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[256];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var received = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        return Encoding.UTF8.GetString(buffer, 0, received).Trim();
    }
}
