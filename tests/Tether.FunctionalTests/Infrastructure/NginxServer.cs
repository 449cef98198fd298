using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Tether.FunctionalTests.Infrastructure;

/// <summary>
/// A real nginx (/usr/sbin/nginx) as a backend: its own prefix and config in <paramref name="directory"/>, in the
/// foreground (daemon off, master only), on a free 127.0.0.1 port, killed by its PID on dispose. The caller writes
/// the server block's directives; the access log (format given by the caller) is at <see cref="AccessLogPath"/>.
/// </summary>
internal sealed class NginxServer : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/nginx";

    private readonly Process _process;

    private NginxServer(Process process, int port, string directory)
    {
        _process = process;
        Port = port;
        AccessLogPath = Path.Combine(directory, "access.log");
    }

    public int Port { get; }

    public string AccessLogPath { get; }

    /// <summary>
    /// Starts nginx with one server on 127.0.0.1:PORT<paramref name="listenSuffix"/> (" ssl" for TLS), the
    /// directives of <paramref name="server"/> inside it and <paramref name="logFormat"/> as its access log format.
    /// nginx cannot listen on port 0, so a free port is picked and, if another process took it meanwhile, picked again.
    /// </summary>
    public static async Task<NginxServer> StartAsync(string directory, string server, string logFormat = "$status", string listenSuffix = "")
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = PickPort();
            var config = $$"""
                worker_processes 1;
                master_process off;
                daemon off;
                pid {{directory}}/nginx.pid;
                error_log {{directory}}/error.log info;
                events { worker_connections 256; }
                http {
                    log_format test '{{logFormat}}';
                    access_log {{directory}}/access.log test;
                    client_body_temp_path {{directory}}/body;
                    proxy_temp_path {{directory}}/proxy;
                    fastcgi_temp_path {{directory}}/fastcgi;
                    uwsgi_temp_path {{directory}}/uwsgi;
                    scgi_temp_path {{directory}}/scgi;
                    server {
                        listen 127.0.0.1:{{port}}{{listenSuffix}};
                        {{server}}
                    }
                }
                """;
            var configPath = Path.Combine(directory, "nginx.conf");
            await File.WriteAllTextAsync(configPath, config);
            var process = Process.Start(new ProcessStartInfo(Binary, ["-p", directory, "-c", configPath])
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            })!;
            var nginx = new NginxServer(process, port, directory);
            if (await nginx.AcceptsAsync(TimeSpan.FromSeconds(10)))
            {
                return nginx;
            }

            var errors = await File.ReadAllTextAsync(Path.Combine(directory, "error.log"));
            await nginx.DisposeAsync();
            if (attempt == 5 || !errors.Contains("Address already in use", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"nginx did not start:\n{errors}");
            }
        }
    }

    /// <summary>The access log's lines so far.</summary>
    public string[] AccessLog() => File.Exists(AccessLogPath) ? File.ReadAllLines(AccessLogPath) : [];

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private static int PickPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>True once nginx accepts on its port; false if it exits first (a bind failure), another process holds
    /// the port, or the time runs out.</summary>
    private async Task<bool> AcceptsAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (!_process.HasExited && Stopwatch.GetTimestamp() < deadline)
        {
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Port));
                if (Tether.Testing.ListenerOwner.Owns(_process.Id, Port))
                {
                    return true;
                }

                // Someone accepts, but not nginx: another test's server took the port between PickPort and nginx's
                // bind (nginx is about to exit with "Address already in use"). Connecting alone cannot tell them apart.
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await _process.WaitForExitAsync(wait.Token);
                }
                catch (OperationCanceledException)
                {
                }

                return false;
            }
            catch (SocketException)
            {
                // Another process starting: trying to connect is the only way to see it listening. Or its exit.
                await Task.WhenAny(_process.WaitForExitAsync(), Task.Delay(20));
            }
        }

        return false;
    }
}
