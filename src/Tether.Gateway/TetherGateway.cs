using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tether.Configuration;
using Tether.Gateway.Admin;
using Tether.Gateway.Forwarding;
using Tether.Gateway.Listeners;
using Tether.Gateway.Protection;
using Tether.Gateway.ProxyProtocol;

namespace Tether.Gateway;

/// <summary>Options of the host that are not user config: test seams and logging.</summary>
public sealed record GatewayOptions
{
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>How often idle pool connections are checked for expiry.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Resolves destinations written as host names (a test seam; the OS resolver by default).</summary>
    public Tether.Upstream.Discovery.IHostResolver HostResolver { get; init; } = Tether.Upstream.Discovery.SystemHostResolver.Instance;
}

/// <summary>The running gateway: Kestrel listeners in front, pools behind, an admin endpoint beside.</summary>
public sealed class TetherGateway : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly WebApplication? _admin;
    private readonly ITimer _sweeper;
    private volatile GatewayModel _model;

    private TetherGateway(WebApplication app, WebApplication? admin, GatewayModel model, GatewayOptions options, DownstreamStatistics downstream, GatewayCounters counters)
    {
        _app = app;
        _admin = admin;
        _model = model;
        Downstream = downstream;
        Counters = counters;
        _sweeper = options.TimeProvider.CreateTimer(static s => ((TetherGateway)s!)._model.Sweep(), this, options.SweepInterval, options.SweepInterval);
    }

    public DownstreamStatistics Downstream { get; }

    public GatewayCounters Counters { get; }

    public TetherConfig Config => _model.Config;

    internal GatewayModel Model => _model;

    /// <summary>The URLs the listeners are bound to, in config order (port 0 resolved).</summary>
    public IReadOnlyList<Uri> ListenerUrls { get; private set; } = [];

    /// <summary>The admin endpoint's URL, if enabled.</summary>
    public Uri? AdminUrl { get; private set; }

    public static async Task<TetherGateway> StartAsync(TetherConfig config, GatewayOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        options ??= new GatewayOptions();
        var errors = ConfigValidator.Validate(config);
        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }

        var model = new GatewayModel(config, options);
        var downstream = new DownstreamStatistics();
        var counters = new GatewayCounters();
        var builder = CreateBuilder(options);
        builder.Services.AddSingleton(counters);
        builder.Services.AddSingleton<ForwarderErrors>();
        builder.Services.AddSingleton<Forwarder>();
        builder.WebHost.UseKestrel(kestrel => ConfigureKestrel(kestrel, config, downstream, options.TimeProvider));
        var app = builder.Build();

        TetherGateway? gateway = null;
        var proxy = new ProxyHandler(app.Services.GetRequiredService<Forwarder>(), () => gateway!._model, downstream, counters, config.Downstream, options.TimeProvider);
        app.Run(proxy.HandleAsync);

        WebApplication? admin = null;
        if (!string.IsNullOrEmpty(config.Admin.Address))
        {
            var adminBuilder = CreateBuilder(options);
            adminBuilder.WebHost.UseKestrel(k => ListenEndpoints.Listen(k, config.Admin.Address, _ => { }));
            admin = adminBuilder.Build();
        }

        gateway = new TetherGateway(app, admin, model, options, downstream, counters);
        if (admin is not null)
        {
            AdminEndpoints.Map(admin, gateway);
        }

        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            gateway.ListenerUrls = BoundUrls(app);
            if (admin is not null)
            {
                await admin.StartAsync(cancellationToken).ConfigureAwait(false);
                gateway.AdminUrl = BoundUrls(admin)[0];
            }
        }
        catch
        {
            await gateway.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return gateway;
    }

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await _sweeper.DisposeAsync().ConfigureAwait(false);
        await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_admin is not null)
        {
            await _admin.StopAsync(cancellationToken).ConfigureAwait(false);
        }

        _model.Dispose();
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

        await _app.DisposeAsync().ConfigureAwait(false);
        if (_admin is not null)
        {
            await _admin.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static WebApplicationBuilder CreateBuilder(GatewayOptions options)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        if (options.LoggerFactory is { } loggerFactory)
        {
            builder.Services.AddSingleton(loggerFactory);
        }

        return builder;
    }

    private static void ConfigureKestrel(Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions kestrel, TetherConfig config, DownstreamStatistics downstream, TimeProvider timeProvider)
    {
        var d = config.Downstream;
        kestrel.AddServerHeader = false;
        kestrel.Limits.KeepAliveTimeout = d.KeepAliveTimeout;
        kestrel.Limits.MaxRequestBodySize = null;
        KestrelLimits.Apply(kestrel, d);

        // Header bytes pass through as they are (Latin-1 is byte-transparent) rather than being refused.
        kestrel.RequestHeaderEncodingSelector = static _ => Encoding.Latin1;
        kestrel.ResponseHeaderEncodingSelector = static _ => Encoding.Latin1;

        // One limiter and one set of counters for all listeners: the caps are per process, like nginx's.
        var services = kestrel.ApplicationServices;
        var loggers = services.GetRequiredService<ILoggerFactory>();
        var protectionLog = loggers.CreateLogger("Tether.Gateway.Protection");
        var limiter = new ConnectionLimiter(d.MaxConnections, d.MaxConnectionsPerClient);
        var trustedProxies = new NetworkList(d.TrustedProxies);
        var kestrelReasons = new KestrelCloseReasons(services.GetRequiredService<IMeterFactory>(), downstream.Closed);
        services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped.Register(kestrelReasons.Dispose);

        foreach (var listener in config.Listeners)
        {
            ListenEndpoints.Listen(kestrel, listener.Address, listen =>
            {
                // Without TLS there is no ALPN: "http1AndHttp2" means HTTP/1.1 (h2c needs "http2", prior knowledge).
                listen.Protocols = listener.Tls is null && listener.Protocols == ListenerProtocols.Http1AndHttp2
                    ? Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1
                    : ListenEndpoints.ToKestrel(listener.Protocols);

                // Order matters: the global cap before any byte is read; the PROXY header before TLS and before
                // anything uses the client address; the per-client cap once that address is known.
                listen.Use(next => new ConnectionLimitMiddleware(next, limiter, downstream.Closed, protectionLog).OnConnectionAsync);
                if (listener.ProxyProtocol.Mode != ProxyProtocolMode.Off)
                {
                    var proxy = listener.ProxyProtocol;
                    var trustedNetworks = new NetworkList(proxy.TrustedNetworks);
                    listen.Use(next => new ProxyProtocolMiddleware(next, proxy, trustedNetworks, downstream.Closed, timeProvider, protectionLog).OnConnectionAsync);
                }

                listen.Use(next => new ClientConnectionMiddleware(next, limiter, trustedProxies, downstream.Closed, protectionLog).OnConnectionAsync);
                listen.Use(next => new DownstreamConnectionMiddleware(next, downstream, d, timeProvider).OnConnectionAsync);
                if (listener.Tls is { } tls)
                {
                    ListenEndpoints.UseTls(listen, tls);
                }
            });
        }
    }

    private static Uri[] BoundUrls(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        var urls = new Uri[addresses.Count];
        var i = 0;
        foreach (var a in addresses)
        {
            urls[i++] = new Uri(a);
        }

        return urls;
    }
}
