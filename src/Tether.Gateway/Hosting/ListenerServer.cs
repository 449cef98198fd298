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
    // Kestrel's server, Tether's own HTTP/1.1 engine (listeners[].engine "tether"), or both: an engine listener that
    // is not cleartext HTTP/1.1 only hands the connections it does not serve to a Kestrel server (Http1.KestrelHandoff).

    /// <summary>How long a stop waits at most for the accept loop to take what the kernel queued.</summary>
    public static readonly TimeSpan MaxAcceptDrain = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan AcceptPoll = TimeSpan.FromMilliseconds(5);

    private readonly WebApplication? _app;
    private readonly Http1.Http1Engine? _engine;
    private readonly Protection.Http2FrameLimits? _frameLimits;

    // The sockets Kestrel listens on (one per bound address, added as Kestrel binds them, under its own lock), so
    // that a stop can empty their accept queues first. An engine listener's socket is the engine's.
    private readonly List<System.Net.Sockets.Socket> _listenSockets;
    private Task? _stoppedAccepting;
    private int _stopped;

    private ListenerServer(ListenerConfig config, WebApplication? app, Http1.Http1Engine? engine, Protection.Http2FrameLimits? frameLimits,
        List<System.Net.Sockets.Socket> listenSockets)
    {
        Config = config;
        _listenSockets = listenSockets;
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
        List<System.Net.Sockets.Socket> sockets = [];
        return new ListenerServer(config, BuildKestrel(options, configureKestrel, handler, handoff: null, sockets), null, frameLimits, sockets);
    }

    /// <summary>
    /// An engine listener with its Kestrel server for what the engine hands over (HTTP/2, TLS): Kestrel listens on the
    /// handoff's endpoint only, the engine on the address.
    /// </summary>
    public static ListenerServer Create(
        ListenerConfig config, Http1.Http1Engine engine, Http1.KestrelHandoff handoff, GatewayOptions options, Protection.Http2FrameLimits frameLimits,
        Action<KestrelServerOptions> configureKestrel, RequestDelegate handler)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new ListenerServer(config, BuildKestrel(options, configureKestrel, handler, handoff, []), engine, frameLimits, []);
    }

    private static WebApplication BuildKestrel(
        GatewayOptions options, Action<KestrelServerOptions> configureKestrel, RequestDelegate handler, Http1.KestrelHandoff? handoff,
        List<System.Net.Sockets.Socket> listenSockets)
    {
        var builder = GatewayHost.CreateBuilder(options, socket =>
        {
            lock (listenSockets)
            {
                listenSockets.Add(socket);
            }
        });
        builder.WebHost.UseKestrel(configureKestrel);
        if (handoff is not null)
        {
            // Registered after the socket transport: Kestrel asks the last registered factory first (CanBind).
            builder.Services.AddSingleton<Microsoft.AspNetCore.Connections.IConnectionListenerFactory>(services =>
                handoff.WithMemoryPools(services.GetService<Microsoft.AspNetCore.Connections.IMemoryPoolFactory<byte>>()));
        }

        var app = builder.Build();
        app.Run(handler);
        return app;
    }

    /// <summary>A listener served by Tether's own HTTP/1.1 engine.</summary>
    public static ListenerServer Create(ListenerConfig config, Http1.Http1Engine engine) => new(config, null, engine, null, []);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            // Before the engine: a connection the engine hands over finds Kestrel listening.
            await _app.StartAsync(cancellationToken).ConfigureAwait(false);
        }

        if (_engine is not null)
        {
            _engine.Start();

            // With TLS the engine's socket takes the connections and Kestrel does TLS on them: the URL is https.
            Url = Config.Tls is null || _engine.Url is null ? _engine.Url : new UriBuilder(_engine.Url) { Scheme = Uri.UriSchemeHttps }.Uri;
            return;
        }

        Url = GatewayHost.BoundUrls(_app!)[0];
    }

    /// <summary>
    /// Sets the downstream keys Kestrel reads when a connection or request starts (keep-alive and header
    /// timeouts, data rates, header limits) on the running server: new connections get them, open ones keep
    /// what they started with. The options object is the one the server reads, not a copy.
    /// </summary>
    public void ApplyLimits(DownstreamConfig downstream)
    {
        _engine?.ApplyLimits(downstream);
        if (_app is null)
        {
            return;
        }

        var kestrel = _app!.Services.GetRequiredService<IOptions<KestrelServerOptions>>().Value;
        kestrel.Limits.KeepAliveTimeout = downstream.KeepAliveTimeout;
        Protection.KestrelLimits.Apply(kestrel, downstream);
        _frameLimits?.Apply(downstream);
    }

    /// <summary>
    /// The first step of a stop: new connection attempts are dropped (refused once the listener closes), and this
    /// completes when the kernel's accept queue is empty, everything queued accepted and being served, or after
    /// <paramref name="bound"/>. Idempotent; <see cref="StopAsync"/> runs it too.
    /// </summary>
    public Task StopAcceptingAsync(TimeSpan bound)
    {
        lock (_listenSockets)
        {
            return _stoppedAccepting ??= EmptyAcceptQueuesAsync(bound);
        }
    }

    private async Task EmptyAcceptQueuesAsync(TimeSpan bound)
    {
        var sockets = ListenSockets();
        var paused = false;
        foreach (var socket in sockets)
        {
            paused |= Listeners.AcceptBacklog.StopNewConnections(socket);
        }

        if (!paused)
        {
            return;
        }

        // A handshake whose SYN came before the filter may still complete into the queue: poll at least twice.
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        var polls = 0;
        while (System.Diagnostics.Stopwatch.GetElapsedTime(start) < bound && (polls++ < 2 || Pending(sockets) > 0))
        {
            await Task.Delay(AcceptPoll).ConfigureAwait(false);
        }
    }

    private static int Pending(List<System.Net.Sockets.Socket> sockets)
    {
        var pending = 0;
        foreach (var socket in sockets)
        {
            pending += Listeners.AcceptBacklog.Pending(socket);
        }

        return pending;
    }

    private List<System.Net.Sockets.Socket> ListenSockets()
    {
        if (_engine?.ListenSocket is { } socket)
        {
            return [socket];
        }

        lock (_listenSockets)
        {
            return [.. _listenSockets];
        }
    }

    /// <summary>Stops accepting, asks every connection to close, aborts what is left when the token fires.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            await StopAcceptingAsync(MaxAcceptDrain).ConfigureAwait(false);

            // Both at once, with one deadline: the engine drains its HTTP/1.1 connections, Kestrel the ones handed to it
            // (GOAWAY on HTTP/2).
            var engine = _engine?.StopAsync(cancellationToken) ?? Task.CompletedTask;
            var kestrel = _app?.StopAsync(cancellationToken) ?? Task.CompletedTask;
            await Task.WhenAll(engine, kestrel).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_engine is not null)
        {
            await _engine.DisposeAsync().ConfigureAwait(false);
        }

        if (_app is not null)
        {
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }
}
