using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Tether.Doctor.Tests.Servers;

/// <summary>A real Kestrel on 127.0.0.1 port 0 answering "hello"; optionally TLS with a given certificate.</summary>
internal sealed class KestrelOrigin : IAsyncDisposable
{
    private readonly WebApplication _app;

    private KestrelOrigin(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public string Url { get; }

    public static async Task<KestrelOrigin> StartAsync(
        TimeSpan keepAliveTimeout, X509Certificate2? certificate = null, HttpProtocols protocols = HttpProtocols.Http1AndHttp2, int maxStreams = 100)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.KeepAliveTimeout = keepAliveTimeout;
            kestrel.Limits.Http2.MaxStreamsPerConnection = maxStreams;
            kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = protocols;
                if (certificate is not null)
                {
                    listen.UseHttps(certificate);
                }
            });
        });
        var app = builder.Build();
        app.MapGet("/", () => Results.Text("hello from kestrel\n"));
        await app.StartAsync();
        var address = app.Urls.First();
        var port = new Uri(address).Port;
        return new KestrelOrigin(app, $"{(certificate is null ? "http" : "https")}://127.0.0.1:{port}/");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
