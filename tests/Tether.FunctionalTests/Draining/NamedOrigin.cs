using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Tether.Gateway.Hosting;

namespace Tether.FunctionalTests.Draining;

/// <summary>
/// A Kestrel origin on 127.0.0.1:0 that answers its name, after <c>?ms=N</c> milliseconds if asked, and
/// counts requests. Stopping it is not tied to the test process's signals.
/// </summary>
internal sealed class NamedOrigin : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _requests;

    private NamedOrigin(string name, WebApplication app)
    {
        Name = name;
        _app = app;
    }

    public string Name { get; }

    public string Address { get; private set; } = "";

    public int Requests => Volatile.Read(ref _requests);

    public static async Task<NamedOrigin> StartAsync(string name)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var origin = new NamedOrigin(name, app);
        app.Run(origin.HandleAsync);
        await app.StartAsync();
        origin.Address = GatewayHost.BoundUrls(app)[0].Authority;
        return origin;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(2)).Token);
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        if (context.Request.Query["ms"] is { Count: > 0 } ms)
        {
            await Task.Delay(int.Parse(ms[0]!, CultureInfo.InvariantCulture), context.RequestAborted);
        }

        await context.Response.WriteAsync(Name);
    }
}
