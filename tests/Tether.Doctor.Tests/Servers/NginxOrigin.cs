using System.Diagnostics;

namespace Tether.Doctor.Tests.Servers;

/// <summary>
/// A real nginx with its own prefix, config and port on 127.0.0.1, started in the foreground
/// (daemon off) and killed on dispose. <paramref name="serverDirectives"/> go inside the server block.
/// </summary>
internal sealed class NginxOrigin : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/nginx";

    private readonly string _directory;
    private readonly Process _process;

    private NginxOrigin(string directory, Process process, int port)
    {
        _directory = directory;
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}/";

    public static async Task<NginxOrigin> StartAsync(string serverDirectives, string listenSuffix = "")
    {
        for (var attempt = 1; ; attempt++)
        {
            var origin = await TryStartAsync(serverDirectives, listenSuffix);
            if (origin is not null)
            {
                return origin;
            }

            Assert.True(attempt < 5, "nginx never got a port of its own: each picked port was taken by another server");
        }
    }

    // Null when another process took the picked port before nginx bound it (nginx then exits; a connect would have
    // reached the other server).
    private static async Task<NginxOrigin?> TryStartAsync(string serverDirectives, string listenSuffix)
    {
        var directory = Directory.CreateTempSubdirectory("tether-doctor-nginx-").FullName;
        var port = FreePort.Pick();
        var config = $$"""
            worker_processes 1;
            daemon off;
            pid {{directory}}/nginx.pid;
            error_log {{directory}}/error.log warn;
            events { worker_connections 256; }
            http {
                access_log off;
                client_body_temp_path {{directory}}/body;
                proxy_temp_path {{directory}}/proxy;
                fastcgi_temp_path {{directory}}/fastcgi;
                uwsgi_temp_path {{directory}}/uwsgi;
                scgi_temp_path {{directory}}/scgi;
                server {
                    listen 127.0.0.1:{{port}}{{listenSuffix}};
                    {{serverDirectives}}
                    location / { return 200 "hello from nginx\n"; }
                }
            }
            """;
        await File.WriteAllTextAsync(Path.Combine(directory, "nginx.conf"), config);
        var start = new ProcessStartInfo(Binary, ["-p", directory, "-c", Path.Combine(directory, "nginx.conf")])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        var process = Process.Start(start)!;
        var origin = new NginxOrigin(directory, process, port);
        try
        {
            await FreePort.WaitUntilAcceptingAsync(port, TimeSpan.FromSeconds(10));
        }
        catch
        {
            await origin.DisposeAsync();
            throw;
        }

        if (!Tether.Testing.ListenerOwner.Owns(process.Id, port))
        {
            await origin.DisposeAsync();
            return null;
        }

        return origin;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // nginx may still hold a temp file for a moment; a leftover temp dir is harmless.
        }
    }
}
