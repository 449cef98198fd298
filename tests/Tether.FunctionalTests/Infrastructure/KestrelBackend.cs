using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tether.Gateway.Hosting;

namespace Tether.FunctionalTests.Infrastructure;

/// <summary>
/// A real ASP.NET Core server (Kestrel, in-process) on 127.0.0.1:0 as a backend: cleartext or TLS (ALPN from
/// <paramref name="protocols"/>), with the app the test maps. Counts the TCP connections it accepted.
/// </summary>
internal sealed class KestrelBackend : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _connections;

    private KestrelBackend(WebApplication app, bool tls)
    {
        _app = app;
        Tls = tls;
    }

    public bool Tls { get; }

    public int Port { get; private set; }

    /// <summary>"http://127.0.0.1:PORT" or "https://127.0.0.1:PORT", as a destination in a cluster.</summary>
    public string Destination => $"{(Tls ? "https" : "http")}://127.0.0.1:{Port}";

    /// <summary>TCP connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    public IServiceProvider Services => _app.Services;

    public static async Task<KestrelBackend> StartAsync(
        Action<WebApplication> map,
        HttpProtocols protocols = HttpProtocols.Http2,
        X509Certificate2? certificate = null,
        Action<IServiceCollection>? services = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        services?.Invoke(builder.Services);
        KestrelBackend? backend = null;
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = protocols;
            listen.Use(next => context =>
            {
                Interlocked.Increment(ref backend!._connections);
                return next(context);
            });
            if (certificate is not null)
            {
                listen.UseHttps(certificate);
            }
        }));
        var app = builder.Build();
        backend = new KestrelBackend(app, certificate is not null);
        map(app);
        await app.StartAsync();
        backend.Port = GatewayHost.BoundUrls(app)[0].Port;
        return backend;
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            // Calls a test left hanging; the host is disposed all the same.
        }

        await _app.DisposeAsync();
    }
}
