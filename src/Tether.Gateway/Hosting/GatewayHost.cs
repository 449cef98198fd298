using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Tether.Gateway.Hosting;

/// <summary>What every Kestrel host of the gateway (each listener, the admin endpoint) is built with.</summary>
internal static class GatewayHost
{
    /// <param name="options">The gateway's options (logger factory).</param>
    /// <param name="listenSockets">Given, receives each listening socket Kestrel binds (see <see cref="Listeners.AcceptBacklog"/>).</param>
    public static WebApplicationBuilder CreateBuilder(GatewayOptions options, Action<System.Net.Sockets.Socket>? listenSockets = null)
    {
        // The empty builder reads no appsettings files (so no file watcher thread) and no ASPNETCORE_ variables:
        // Tether's config is the only source. Kestrel core (no config-based endpoints) and routing for the admin
        // endpoints are all a host needs.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseKestrelCore();

        // With inline socket completions on (the tether executable turns them on; see Program.cs), Kestrel's
        // own transport may run request processing on the completing thread too, instead of queueing it.
        // Measured (bench, 64 conns, 19 B, two rounds): 56-57k vs 45-47k req/s and 18.5-19 vs 25-26 us of CPU
        // per request, for a p99 of 6.2-6.9 ms instead of 3.1-3.5 ms. Throughput is the default;
        // TETHER_KESTREL_INLINE_SCHEDULING=0 picks the lower tail (docs/benchmarks.md).
        builder.WebHost.UseSockets(o =>
        {
            o.UnsafePreferInlineScheduling = InlineCompletions;
            if (listenSockets is not null)
            {
                o.CreateBoundListenSocket = endPoint =>
                {
                    var socket = Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets.SocketTransportOptions.CreateDefaultBoundListenSocket(endPoint);
                    listenSockets(socket);
                    return socket;
                };
            }
        });
        builder.Services.AddRoutingCore();
        builder.Services.AddLogging();
        if (options.LoggerFactory is { } loggerFactory)
        {
            builder.Services.AddSingleton(loggerFactory);
        }

        // The default ConsoleLifetime stops each host on SIGTERM/SIGINT by itself, which would cut a drain
        // short (and stop the admin endpoint that reports it). The process decides when hosts stop.
        builder.Services.AddSingleton<IHostLifetime, ManualLifetime>();

        // The caller bounds every stop with its own token (drain.timeout); the host adds no limit of its own.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = Timeout.InfiniteTimeSpan);
        return builder;
    }

    /// <summary>Whether Kestrel's socket transport runs request processing on the completing thread (see above).</summary>
    internal static bool InlineCompletions =>
        Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") == "1"
        && Environment.GetEnvironmentVariable("TETHER_KESTREL_INLINE_SCHEDULING") != "0";

    public static Uri[] BoundUrls(WebApplication app)
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

    private sealed class ManualLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
