using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tether.Configuration;
using Tether.Gateway.Admin;
using Tether.Gateway.Draining;
using Tether.Gateway.Forwarding;
using Tether.Gateway.Hosting;
using Tether.Gateway.Listeners;
using Tether.Gateway.Observability;
using Tether.Gateway.Protection;
using Tether.Gateway.ProxyProtocol;
using Tether.Gateway.Reload;

namespace Tether.Gateway;

/// <summary>Options of the host that are not user config: test seams and logging.</summary>
public sealed record GatewayOptions
{
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>How often idle pool connections are checked for expiry.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Resolves destinations written as host names (a test seam). Null: DNS as the config's dns section says
    /// (record TTLs and SRV; /etc/resolv.conf and then /etc/hosts without dns.servers).</summary>
    public Tether.Upstream.Discovery.IHostResolver? HostResolver { get; init; }

    /// <summary>The config file reloads read (SIGHUP, POST /reload, file changes). Null: reload is refused.</summary>
    public string? ConfigPath { get; init; }

    /// <summary>Where SIGHUP and POST /reload read the config when it is not a file (etcd: the key, now, with its
    /// revision). Null with a null <see cref="ConfigPath"/>: reload is refused.</summary>
    public Func<CancellationToken, Task<(string Json, long Revision)>>? ConfigReader { get; init; }

    /// <summary>The TETHER__ environment overrides a reload applies, as at start.</summary>
    public IReadOnlyDictionary<string, string?>? Environment { get; init; }

    /// <summary>Reload when <see cref="ConfigPath"/> changes on disk.</summary>
    public bool WatchConfigFile { get; init; } = true;

    /// <summary>Quiet time after the last change of the config file before it is reloaded (editors write in steps).</summary>
    public TimeSpan ReloadDebounce { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>How long a cluster a reload replaced keeps taking requests that picked it just before the swap.</summary>
    public TimeSpan RetireGrace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Opens what accessLog.path "stdout" writes to (a test seam; the process's standard output by default).</summary>
    public Func<Stream>? AccessLogStdout { get; init; }

    /// <summary>Rewrites every config before the gateway runs it, at start and on each reload (a test seam: the
    /// functional suite's TETHER_TEST_ENGINE puts listeners on the "tether" engine, and must do so for a reloaded
    /// config too, or the reload would replace each listener). Null: configs run as loaded.</summary>
    public Func<TetherConfig, TetherConfig>? ConfigFilter { get; init; }
}

/// <summary>
/// The running gateway: Kestrel listeners in front (one server each), pools behind, an admin endpoint beside.
/// Drains on request (<see cref="DrainAsync"/>) and reloads its config (<see cref="ReloadAsync"/>).
/// </summary>
public sealed partial class TetherGateway : IAsyncDisposable
{
    private readonly GatewayOptions _options;
    private readonly ServiceProvider _services;
    private readonly ProxyHandler _proxy;
    private readonly ConnectionLimiter _limiter;
    private readonly NetworkList _trustedProxies;
    private readonly ILogger _log;
    private readonly ITimer _sweeper;
    private readonly TetherMeter _meter;
    private OtlpExport? _export;
    private WebApplication? _admin;
    private volatile GatewayModel _model;

    // Replaced whole by a reload (under _reloadGate); read without a lock.
    private volatile ListenerServer[] _listeners = [];

    private TetherGateway(TetherConfig config, GatewayOptions options)
    {
        _options = options;
        var loggers = options.LoggerFactory ?? NullLoggerFactory.Instance;
        _log = loggers.CreateLogger("Tether.Gateway");
        Downstream = new DownstreamStatistics();
        Counters = new GatewayCounters();
        Drainer = new Drainer(Downstream, options.TimeProvider, loggers.CreateLogger("Tether.Gateway.Draining"));
        Recycler = new Recycler(options.TimeProvider, loggers.CreateLogger("Tether.Gateway.Recycling")) { Window = config.Recycle.Window };
        Retired = new RetiredClusters(options.TimeProvider, options.RetireGrace);
        _model = new GatewayModel(config, options, previous: null, Recycler);
        _meter = new TetherMeter(() => TelemetrySnapshot.Take(this));
        Telemetry = new RequestTelemetry(
            new AccessLog(config.AccessLog, loggers.CreateLogger("Tether.AccessLog"), options.AccessLogStdout), _meter, tracing: config.Telemetry.Tracing.SampleRatio > 0);

        // One forwarder, handler, limiter and set of counters for every listener server: the caps and figures
        // are per process, like nginx's.
        var services = new ServiceCollection();
        services.AddSingleton(loggers);
        services.AddLogging();
        services.AddSingleton(Counters);
        services.AddSingleton(Telemetry);
        services.AddSingleton<ForwarderErrors>();
        services.AddSingleton<Forwarder>();
        _services = services.BuildServiceProvider();
        _proxy = new ProxyHandler(
            _services.GetRequiredService<Forwarder>(), () => _model, Downstream, Counters, Telemetry, Drainer, Recycler, loggers.CreateLogger<ProxyHandler>());
        var d = config.Downstream;
        _limiter = new ConnectionLimiter(d.MaxConnections, d.MaxConnectionsPerClient);
        _trustedProxies = new NetworkList(d.TrustedProxies);
        _sweeper = options.TimeProvider.CreateTimer(static s => ((TetherGateway)s!).Sweep(), this, options.SweepInterval, options.SweepInterval);
        _meter.Observe(MetricFamilies.From(TelemetrySnapshot.Take(this)));
        _export = OtlpExport.Start(config.Telemetry);
    }

    public DownstreamStatistics Downstream { get; }

    public GatewayCounters Counters { get; }

    public TetherConfig Config => _model.Config;

    /// <summary>The URLs the listeners are bound to, in config order (port 0 resolved).</summary>
    public IReadOnlyList<Uri> ListenerUrls
    {
        get
        {
            var listeners = _listeners;
            var urls = new Uri[listeners.Length];
            for (var i = 0; i < urls.Length; i++)
            {
                urls[i] = listeners[i].Url!;
            }

            return urls;
        }
    }

    /// <summary>The admin endpoint's URL, if enabled.</summary>
    public Uri? AdminUrl { get; private set; }

    /// <summary>False once a drain has started (GET /readyz answers 503).</summary>
    public bool IsReady => Drainer.IsReady;

    /// <summary>Completes when a drain has finished: listeners stopped, pools closed.</summary>
    public Task<DrainSummary> Drained => Drainer.Completed;

    /// <summary>Completes when a drain starts (SIGTERM, POST /drain, a stop).</summary>
    public Task DrainBegun => Drainer.Begun;

    internal GatewayModel Model => _model;

    internal Drainer Drainer { get; }

    internal Recycler Recycler { get; }

    internal RetiredClusters Retired { get; }

    /// <summary>Request durations, the access log and the <c>Tether</c> meter's histograms.</summary>
    internal RequestTelemetry Telemetry { get; }

    /// <summary>This gateway's <c>Tether</c> meter.</summary>
    internal Meter Meter => _meter.Meter;

    public static async Task<TetherGateway> StartAsync(TetherConfig config, GatewayOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        options ??= new GatewayOptions();
        config = options.ConfigFilter?.Invoke(config) ?? config;
        var errors = ConfigValidator.Validate(config);
        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }

        var gateway = new TetherGateway(config, options);
        try
        {
            var listeners = new ListenerServer[config.Listeners.Count];
            for (var i = 0; i < listeners.Length; i++)
            {
                listeners[i] = gateway.CreateListener(config.Listeners[i], config);
                gateway._listeners = listeners[..(i + 1)];
                await listeners[i].StartAsync(cancellationToken).ConfigureAwait(false);
            }

            if (!string.IsNullOrEmpty(config.Admin.Address))
            {
                var adminBuilder = GatewayHost.CreateBuilder(options);
                adminBuilder.WebHost.UseKestrel(k => ListenEndpoints.Listen(k, config.Admin.Address, _ => { }));
                gateway._admin = adminBuilder.Build();
                AdminEndpoints.Map(gateway._admin, gateway);
                await gateway._admin.StartAsync(cancellationToken).ConfigureAwait(false);
                gateway.AdminUrl = GatewayHost.BoundUrls(gateway._admin)[0];
                if (config.Admin.Token is null && !AdminEndpoints.IsLoopback(gateway.AdminUrl))
                {
                    Log.AdminUnprotected(gateway._log, config.Admin.Address);
                }
            }

            gateway.StartWatchingConfig();
        }
        catch
        {
            await gateway.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return gateway;
    }

    /// <summary>
    /// Starts a graceful drain (SIGTERM, POST /drain): see <see cref="Draining.Drainer"/>. Returns when it has
    /// finished; later calls return the same result. The admin endpoint keeps serving until disposal.
    /// </summary>
    public Task<DrainSummary> DrainAsync(string cause)
    {
        var drain = _model.Config.Drain;
        return Drainer.RunAsync(drain, cause, StopListenersAsync, ClosePools, StopAcceptingAsync);
    }

    /// <summary>Closes the access log file and opens its path again (SIGUSR1, after logrotate moved it away).</summary>
    public void ReopenLogs() => Telemetry.AccessLog.Reopen();

    /// <summary>A second stop request: abort what the drain is still waiting for.</summary>
    public void AbortDrain() => Drainer.Abort();

    /// <summary>Stops without a delay, giving in-flight requests <c>drain.timeout</c> or until <paramref name="cancellationToken"/>.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        using var registration = cancellationToken.Register(Drainer.Abort);
        await Drainer.RunAsync(_model.Config.Drain with { Delay = TimeSpan.Zero }, "stop", StopListenersAsync, ClosePools, StopAcceptingAsync).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
        }

        StopWatchingConfig();
        if (_admin is not null)
        {
            await _admin.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await _admin.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var listener in _listeners)
        {
            await listener.DisposeAsync().ConfigureAwait(false);
        }

        await _services.DisposeAsync().ConfigureAwait(false);
        await Telemetry.AccessLog.DisposeAsync().ConfigureAwait(false);

        // After the listeners: the last spans and a last collection of the meter are exported (flushed) here.
        Interlocked.Exchange(ref _export, null)?.Dispose();
        _meter.Dispose();
    }

    // Every listener at once: no new connections, and what the kernel queued accepted (see Listeners.AcceptBacklog).
    private async Task StopAcceptingAsync()
    {
        var listeners = _listeners;
        var stops = new Task[listeners.Length];
        for (var i = 0; i < listeners.Length; i++)
        {
            stops[i] = listeners[i].StopAcceptingAsync(ListenerServer.MaxAcceptDrain);
        }

        await Task.WhenAll(stops).ConfigureAwait(false);
    }

    private async Task StopListenersAsync(CancellationToken deadline)
    {
        // No reload may start or stop listeners once the drain has begun.
        await _reloadGate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        _closed = true;
        _reloadGate.Release();
        var listeners = _listeners;
        var stops = new Task[listeners.Length + 1];
        for (var i = 0; i < listeners.Length; i++)
        {
            stops[i] = listeners[i].StopAsync(deadline);
        }

        stops[^1] = RemovedListenersStoppedAsync();
        await Task.WhenAll(stops).ConfigureAwait(false);
    }

    private void ClosePools()
    {
        _sweeper.Dispose();
        _model.Dispose();
        Retired.DisposeAll();
    }

    private void Sweep()
    {
        _model.Sweep();
        Retired.Sweep();
        Recycler.Sweep();
    }

    private ListenerServer CreateListener(ListenerConfig listener, TetherConfig config)
    {
        var frameLimits = new Http2FrameLimits(config.Downstream);
        if (listener.Engine == ListenerEngine.Tether)
        {
            // HTTP/2 and TLS stay on Kestrel: an engine listener that has them hands those connections to a Kestrel server.
            var loggers = _options.LoggerFactory ?? NullLoggerFactory.Instance;
            var logger = loggers.CreateLogger("Tether.Gateway.Http1");
            var handoff = Http1.KestrelHandoff.For(listener, GatewayHost.InlineCompletions, loggers, _options.TimeProvider);
            var engine = new Http1.Http1Engine(listener.Address, config.Downstream, _proxy.HandleValueAsync, Downstream, _limiter, _trustedProxies,
                _options.TimeProvider, logger)
            {
                Handoff = handoff,

                // Read by the engine where it serves HTTP/1.1 itself; a connection handed over unread (TLS, "http2") has
                // its PROXY header read by Kestrel.
                ProxyProtocol = listener.ProxyProtocol.Mode == ProxyProtocolMode.Off
                    ? null
                    : new Http1.Http1ProxyProtocol(listener.ProxyProtocol, Downstream.Closed, _options.TimeProvider, logger),
                AccessLog = Telemetry.AccessLog,
            };
            return handoff is null
                ? ListenerServer.Create(listener, engine)
                : ListenerServer.Create(listener, engine, handoff, _options, frameLimits,
                    kestrel => ConfigureKestrel(kestrel, config, listener, Downstream, _limiter, _trustedProxies, frameLimits, _options.TimeProvider, Telemetry.AccessLog, handoff),
                    _proxy.HandleAsync);
        }

        return ListenerServer.Create(
            listener,
            _options,
            frameLimits,
            kestrel => ConfigureKestrel(kestrel, config, listener, Downstream, _limiter, _trustedProxies, frameLimits, _options.TimeProvider, Telemetry.AccessLog, handoff: null),
            _proxy.HandleAsync);
    }

    private static void ConfigureKestrel(
        Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions kestrel, TetherConfig config, ListenerConfig listener,
        DownstreamStatistics downstream, ConnectionLimiter limiter, NetworkList trustedProxies, Http2FrameLimits frameLimits, TimeProvider timeProvider,
        AccessLog accessLog, Http1.KestrelHandoff? handoff)
    {
        var d = config.Downstream;
        kestrel.AddServerHeader = false;
        kestrel.Limits.KeepAliveTimeout = d.KeepAliveTimeout;
        kestrel.Limits.MaxRequestBodySize = null;
        KestrelLimits.Apply(kestrel, d);

        // Header bytes pass through as they are (Latin-1 is byte-transparent) rather than being refused.
        // Content-Length: digits only (ContentLengthDigits), which Kestrel then checks over HTTP/1.1 and HTTP/2.
        kestrel.RequestHeaderEncodingSelector = ContentLengthDigits.Select;
        kestrel.ResponseHeaderEncodingSelector = static _ => Encoding.Latin1;

        // One limiter and one set of counters for all listeners (created by the gateway, shared by every
        // listener server): the caps are per process, like nginx's.
        var services = kestrel.ApplicationServices;
        var loggers = services.GetRequiredService<ILoggerFactory>();
        var protectionLog = loggers.CreateLogger("Tether.Gateway.Protection");
        var kestrelReasons = new KestrelCloseReasons(services.GetRequiredService<IMeterFactory>(), downstream.Closed);
        services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped.Register(kestrelReasons.Dispose);

        // The requests Kestrel refuses itself get access-log lines too (nginx logs its 400s).
        if (services.GetService<System.Diagnostics.DiagnosticListener>() is { } diagnostics)
        {
            var badRequests = KestrelBadRequests.Subscribe(diagnostics, accessLog);
            services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped.Register(badRequests.Dispose);
        }

        void Configure(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions listen)
        {
            if (handoff is { CountedByEngine: true })
            {
                // h2c the engine has seen the preface of, counted and capped: HTTP/2 only, no caps or counters here.
                listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2;
                listen.Use(next => connection => Http1.KestrelHandoff.OnCountedConnectionAsync(next, connection));
                listen.Use(next => new Http2FloodMiddleware(next, static _ => true, frameLimits, downstream.Closed, timeProvider, protectionLog).OnConnectionAsync);
                return;
            }

            // Without TLS there is no ALPN: on "http1AndHttp2" the endpoint is HTTP/1.1 (Kestrel would pick it anyway,
            // and warn) and H2cPrefaceMiddleware switches a connection that opens with the HTTP/2 preface to HTTP/2.
            var cleartextMixed = listener.Tls is null && listener.Protocols == ListenerProtocols.Http1AndHttp2;
            listen.Protocols = cleartextMixed
                ? Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1
                : ListenEndpoints.ToKestrel(listener.Protocols);

            // Order matters: the global cap before any byte is read; the PROXY header before TLS and before
            // anything uses the client address; the per-client cap once that address is known.
            // Without a cap it is left out: each connection middleware holds a state machine per open connection.
            if (limiter.MaxConnections > 0)
            {
                listen.Use(next => new ConnectionLimitMiddleware(next, limiter, downstream.Closed, protectionLog).OnConnectionAsync);
            }

            if (listener.ProxyProtocol.Mode != ProxyProtocolMode.Off)
            {
                var proxy = listener.ProxyProtocol;
                var trustedNetworks = new NetworkList(proxy.TrustedNetworks);
                listen.Use(next => new ProxyProtocolMiddleware(next, proxy, trustedNetworks, downstream.Closed, timeProvider, protectionLog).OnConnectionAsync);
            }

            listen.Use(next => new ClientConnectionMiddleware(next, limiter, trustedProxies, downstream.Closed, protectionLog).OnConnectionAsync);
            listen.Use(next => new DownstreamConnectionMiddleware(next, downstream, d, timeProvider).OnConnectionAsync);
            if (cleartextMixed && H2cPrefaceMiddleware.IsSupported)
            {
                // After the PROXY header and the caps: the preface is the first thing the client itself sends.
                listen.Use(next => new H2cPrefaceMiddleware(next, kestrel, downstream.Closed, timeProvider).OnConnectionAsync);
            }

            if (listener.Tls is { } tls)
            {
                ListenEndpoints.UseTls(listen, tls);
            }

            // Last, on the bytes Kestrel's HTTP/2 reads: after TLS (ALPN has chosen) and after the preface check.
            if (Http2Guarded(listener, cleartextMixed) is { } isHttp2)
            {
                listen.Use(next => new Http2FloodMiddleware(next, isHttp2, frameLimits, downstream.Closed, timeProvider, protectionLog).OnConnectionAsync);
            }
        }

        if (handoff is null)
        {
            ListenEndpoints.Listen(kestrel, listener.Address, Configure);
        }
        else
        {
            // The engine owns the address; Kestrel takes the connections it hands over (Http1.KestrelHandoff).
            kestrel.Listen(handoff.EndPoint, Configure);
        }
    }

    /// <summary>How a connection of <paramref name="listener"/> is known to be HTTP/2, or null if none can be.</summary>
    private static Func<Microsoft.AspNetCore.Connections.ConnectionContext, bool>? Http2Guarded(ListenerConfig listener, bool cleartextMixed)
    {
        if (listener.Protocols == ListenerProtocols.Http1)
        {
            return null;
        }

        if (listener.Tls is null)
        {
            // "http2" without TLS is prior knowledge only; "http1AndHttp2" is HTTP/2 once the preface said so.
            return cleartextMixed ? H2cPrefaceMiddleware.ChoseHttp2 : static _ => true;
        }

        // With TLS, ALPN decides; a client that offers no ALPN gets HTTP/2 only where HTTP/1.1 is not served.
        var http2Only = listener.Protocols == ListenerProtocols.Http2;
        return connection =>
        {
            var alpn = connection.Features.Get<Microsoft.AspNetCore.Server.Kestrel.Core.Features.ITlsApplicationProtocolFeature>()?.ApplicationProtocol ?? default;
            return alpn.IsEmpty ? http2Only : alpn.Span.SequenceEqual("h2"u8);
        };
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4050, EventName = "AdminUnprotected", Level = LogLevel.Warning,
            Message = "the admin endpoint listens on {Address}, which is not a loopback address, and admin.token is not set: anyone who reaches it can read /status and POST /drain; set admin.token or listen on 127.0.0.1")]
        public static partial void AdminUnprotected(ILogger logger, string? address);
    }
}
