using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tether.FunctionalTests.LoadBalancing;

/// <summary>
/// A Kestrel origin on loopback that counts what it gets: requests, and request bodies read in full. It can
/// be slow, answer 5xx on its health path, reset after reading a body, and stop and start again on its port.
/// </summary>
internal sealed class CountingOrigin : IAsyncDisposable
{
    private readonly IPAddress _address;
    private WebApplication? _app;
    private int _requests;
    private int _bodies;

    private CountingOrigin(IPAddress address, int port)
    {
        _address = address;
        Port = port;
    }

    public int Port { get; private set; }

    public string Address => $"{_address}:{Port}";

    public int Requests => Volatile.Read(ref _requests);

    public int Bodies => Volatile.Read(ref _bodies);

    public TimeSpan Delay { get; set; }

    /// <summary>Read the whole request body, then reset the connection without answering.</summary>
    public bool ResetAfterBody { get; set; }

    public int HealthStatus { get; set; } = 200;

    public static async Task<CountingOrigin> StartAsync(string address = "127.0.0.1", int port = 0)
    {
        var origin = new CountingOrigin(IPAddress.Parse(address), port);
        await origin.StartAsync();
        return origin;
    }

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(_address, Port));
        var app = builder.Build();
        app.Run(HandleAsync);
        await app.StartAsync();
        Port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        _app = app;
    }

    public async Task StopAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    private async Task HandleAsync(HttpContext context)
    {
        if (context.Request.Path == "/healthz")
        {
            context.Response.StatusCode = HealthStatus;
            return;
        }

        Interlocked.Increment(ref _requests);
        if (context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            using var sink = new MemoryStream();
            await context.Request.Body.CopyToAsync(sink);
            Interlocked.Increment(ref _bodies);
        }

        if (ResetAfterBody)
        {
            context.Abort();
            return;
        }

        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay);
        }

        await context.Response.WriteAsync(Address);
    }
}
