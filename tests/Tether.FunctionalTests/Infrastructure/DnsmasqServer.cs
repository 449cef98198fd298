using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Tether.FunctionalTests.Infrastructure;

/// <summary>
/// A real DNS server for a test: dnsmasq (Debian package dnsmasq) on 127.0.0.1 and a free port, answering only
/// from its arguments and a hosts file the test rewrites (<see cref="SetHostsAsync"/> sends SIGHUP, on which dnsmasq
/// reads it again). SRV records come from arguments, so changing them is a restart (<see cref="RestartAsync"/>).
/// Stopped by the PID this class started.
/// </summary>
internal sealed class DnsmasqServer : IAsyncDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tether-dnsmasq-").FullName;
    private readonly int _ttlSeconds;
    private Process? _process;
    private IReadOnlyList<string> _records = [];
    private readonly System.Text.StringBuilder _errors = new();

    private DnsmasqServer(int ttlSeconds)
    {
        _ttlSeconds = ttlSeconds;
    }

    public int Port { get; private set; }

    /// <summary>"127.0.0.1:PORT", for dns.servers.</summary>
    public string Address => $"127.0.0.1:{Port}";

    private string HostsFile => Path.Combine(_directory, "hosts");

    /// <param name="hosts">Lines of a hosts file ("127.0.0.1 api.test").</param>
    /// <param name="records">More dnsmasq options, such as "--srv-host=_http._tcp.api.test,a.test,9001,0,10".</param>
    /// <param name="ttlSeconds">The TTL of every answer (--local-ttl; dnsmasq's default is 0).</param>
    public static async Task<DnsmasqServer> StartAsync(string[] hosts, string[]? records = null, int ttlSeconds = 1)
    {
        var server = new DnsmasqServer(ttlSeconds);
        await File.WriteAllLinesAsync(server.HostsFile, hosts);
        server._records = records ?? [];

        // dnsmasq binds the port on UDP and TCP, and a picked port can be taken by another test before it does (the
        // other tests' TCP listeners come and go by the hundred): then it exits at once, and a fresh port is tried.
        for (var attempt = 1; ; attempt++)
        {
            server.Port = FreeDnsPort();
            if (await server.TryLaunchAsync())
            {
                return server;
            }

            await server.StopAsync();
            Assert.True(attempt < 5 && server.ErrorText.Contains("Address already in use", StringComparison.Ordinal),
                $"dnsmasq did not start: {server.ErrorText}");
        }
    }

    /// <summary>Rewrites the hosts file and has dnsmasq read it again (SIGHUP to the PID this class started).</summary>
    public async Task SetHostsAsync(params string[] hosts)
    {
        await File.WriteAllLinesAsync(HostsFile, hosts);
        using var kill = Process.Start("kill", ["-HUP", _process!.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Stops dnsmasq and starts it again on the same port with other records.</summary>
    public async Task RestartAsync(string[] records)
    {
        await StopAsync();
        _records = records;
        await LaunchAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private string ErrorText
    {
        get
        {
            lock (_errors)
            {
                return _errors.ToString();
            }
        }
    }

    private async Task LaunchAsync()
    {
        if (!await TryLaunchAsync())
        {
            Assert.Fail($"dnsmasq exited with {_process!.ExitCode}: {ErrorText}");
        }
    }

    // False if dnsmasq exits before it answers (a bind failure, say).
    private async Task<bool> TryLaunchAsync()
    {
        var start = new ProcessStartInfo("dnsmasq")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var argument in (string[])[
            "--no-daemon", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=", "--user=root",
            $"--port={Port}", "--listen-address=127.0.0.1", "--bind-interfaces", $"--local-ttl={_ttlSeconds}",
            $"--addn-hosts={HostsFile}", .. _records])
        {
            start.ArgumentList.Add(argument);
        }

        lock (_errors)
        {
            _errors.Clear();
        }

        _process = new Process { StartInfo = start };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                lock (_errors)
                {
                    _errors.AppendLine(line);
                }
            }
        };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        // Ready when it answers: a query for a name it does not have gets NXDOMAIN back.
        var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 10);
        while (!await AnswersAsync())
        {
            if (_process.HasExited)
            {
                await _process.WaitForExitAsync(); // the error lines are all read
                return false;
            }

            Assert.True(Stopwatch.GetTimestamp() < deadline, "dnsmasq did not answer within 10 s");
            await Task.Delay(50);
        }

        return true;
    }

    private async Task<bool> AnswersAsync()
    {
        using var udp = new UdpClient(AddressFamily.InterNetwork);
        // A minimal query: id 1, RD, one question "x." type A class IN.
        byte[] query = [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, (byte)'x', 0, 0, 1, 0, 1];
        await udp.SendAsync(query, new IPEndPoint(IPAddress.Loopback, Port));
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        try
        {
            var reply = await udp.ReceiveAsync(timeout.Token);
            return reply.Buffer.Length >= 12 && reply.Buffer[0] == 0 && reply.Buffer[1] == 1;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (SocketException)
        {
            return false; // ICMP port unreachable: not listening yet
        }
    }

    private async Task StopAsync()
    {
        if (_process is null)
        {
            return;
        }

        if (!_process.HasExited)
        {
            _process.Kill();
        }

        await _process.WaitForExitAsync();
        _process.Dispose();
        _process = null;
    }

    // A port free on UDP and, at the moment of asking, on TCP too (dnsmasq listens on both).
    private static int FreeDnsPort()
    {
        while (true)
        {
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            var port = ((IPEndPoint)udp.LocalEndPoint!).Port;
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                tcp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
                // in use on TCP: another one
            }
        }
    }
}
