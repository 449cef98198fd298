using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tether.Configuration;

namespace Tether.Gateway.Hosting;

/// <summary>
/// One listener in its own Kestrel server. Kestrel cannot add or remove endpoints on a running server, so
/// a server per listener is what lets a reload start new listeners and drain removed ones without touching
/// the connections of the others. All servers share one model, handler, limiter and set of counters.
/// </summary>
internal sealed class ListenerServer : IAsyncDisposable
{
    // Exactly one of the two: Kestrel's server, or Tether's own HTTP/1.1 engine (listeners[].engine "tether").
    private readonly WebApplication? _app;
    private readonly Http1.Http1Engine? _engine;
    private readonly Protection.Http2FrameLimits? _frameLimits;
    private int _stopped;

    private ListenerServer(ListenerConfig config, WebApplication? app, Http1.Http1Engine? engine, Protection.Http2FrameLimits? frameLimits)
    {
        Config = config;
        _app = app;
        _engine = engine;
        _frameLimits = frameLimits;
    }

    public ListenerConfig Config { get; }

    /// <summary>The bound URL (port 0 resolved), once started.</summary>
    public Uri? Url { get; private set; }

    public static ListenerServer Create(
        ListenerConfig config, GatewayOptions options, Protection.Http2FrameLimits frameLimits, Action<KestrelServerOptions> configureKestrel, RequestDelegate handler)
    {
        ArgumentNullException.ThrowIfNull(config);
        var builder = GatewayHost.CreateBuilder(options);
        builder.WebHost.UseKestrel(configureKestrel);
        var app = builder.Build();
        app.Run(handler);
        return new ListenerServer(config, app, null, frameLimits);
    }

    /// <summary>A listener served by Tether's own HTTP/1.1 engine.</summary>
    public static ListenerServer Create(ListenerConfig config, Http1.Http1Engine engine) => new(config, null, engine, null);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_engine is not null)
        {
            _engine.Start();
            Url = _engine.Url;
            return Task.CompletedTask;
        }

        return StartKestrelAsync(cancellationToken);
    }

    private async Task StartKestrelAsync(CancellationToken cancellationToken)
    {
        await _app!.StartAsync(cancellationToken).ConfigureAwait(false);
        Url = GatewayHost.BoundUrls(_app)[0];
    }

    /// <summary>
    /// Sets the downstream keys Kestrel reads when a connection or request starts (keep-alive and header
    /// timeouts, data rates, header limits) on the running server: new connections get them, open ones keep
    /// what they started with. The options object is the one the server reads, not a copy.
    /// </summary>
    public void ApplyLimits(DownstreamConfig downstream)
    {
        if (_engine is not null)
        {
            _engine.ApplyLimits(downstream);
            return;
        }

        var kestrel = _app!.Services.GetRequiredService<IOptions<KestrelServerOptions>>().Value;
        kestrel.Limits.KeepAliveTimeout = downstream.KeepAliveTimeout;
        Protection.KestrelLimits.Apply(kestrel, downstream);
        _frameLimits?.Apply(downstream);
    }

    /// <summary>Stops accepting, asks every connection to close, aborts what is left when the token fires.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            if (_engine is not null)
            {
                await _engine.StopAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await _app!.StopAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public ValueTask DisposeAsync() => _engine is not null ? _engine.DisposeAsync() : _app!.DisposeAsync();
}
