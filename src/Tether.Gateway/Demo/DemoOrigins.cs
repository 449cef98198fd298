using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tether.Configuration;

namespace Tether.Gateway.Demo;

/// <summary>
/// Small HTTP origins started in-process on loopback for the embedded default config, so that
/// `tether run` proxies real requests on a machine with no other server. Each answer says which origin
/// answered and how many requests its upstream connection has carried, which shows reuse at a glance.
/// </summary>
public sealed class DemoOrigins : IAsyncDisposable
{
    private readonly List<WebApplication> _apps;

    private DemoOrigins(List<WebApplication> apps, IReadOnlyList<string> addresses)
    {
        _apps = apps;
        Addresses = addresses;
    }

    /// <summary>"127.0.0.1:port" of each origin.</summary>
    public IReadOnlyList<string> Addresses { get; }

    public static async Task<DemoOrigins> StartAsync(int count = 2, CancellationToken cancellationToken = default)
    {
        var apps = new List<WebApplication>();
        var addresses = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var name = ((char)('A' + i)).ToString();
            // Same host setup as the gateway's: the process, not each host, decides when to stop (a drain
            // needs the origins to keep answering until the gateway is done).
            var builder = Hosting.GatewayHost.CreateBuilder(new GatewayOptions());
            builder.WebHost.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
            var app = builder.Build();
            var nextConnection = 0;
            app.Run(context => RespondAsync(context, name, () => Interlocked.Increment(ref nextConnection)));
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            var url = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
            apps.Add(app);
            addresses.Add($"127.0.0.1:{url.Port}");
        }

        return new DemoOrigins(apps, addresses);
    }

    /// <summary>The embedded default: :8080 in front, :9901 admin, one cluster of the demo origins, and an access
    /// log on stdout (a first run shows each request it proxies; a config file starts with it off).</summary>
    public TetherConfig CreateDefaultConfig(string listenAddress = "127.0.0.1:8080", string adminAddress = "127.0.0.1:9901")
    {
        var destinations = new List<DestinationConfig>();
        foreach (var address in Addresses)
        {
            AddressParser.TryParseDestination(address, 1, out var destination, out _);
            destinations.Add(destination);
        }

        return new TetherConfig
        {
            Listeners = [new ListenerConfig { Address = listenAddress, Protocols = ListenerProtocols.Http1AndHttp2 }],
            Admin = new AdminConfig { Address = adminAddress },
            AccessLog = new AccessLogConfig { Path = AccessLogConfig.Stdout },
            Routes = [new RouteConfig { Match = new RouteMatchConfig { PathPrefix = "/" }, Cluster = "demo" }],
            Clusters = new Dictionary<string, ClusterConfig>
            {
                ["demo"] = new ClusterConfig { Destinations = destinations },
            },
        };
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static Task RespondAsync(HttpContext context, string name, Func<int> nextConnection)
    {
        // Per-connection counters live in the connection's items, so they go away with the connection.
        var items = context.Features.Get<IConnectionItemsFeature>()?.Items;
        if (items is null || !items.TryGetValue(typeof(DemoOrigins), out var state))
        {
            state = new int[] { nextConnection(), 0 };
            items?.Add(typeof(DemoOrigins), state);
        }

        var counters = (int[])state!;
        var number = counters[0];
        var n = ++counters[1];
        var local = context.Connection.LocalPort;
        var peer = $"{context.Connection.RemoteIpAddress}:{context.Connection.RemotePort}";
        var forwardedFor = context.Request.Headers["X-Forwarded-For"].ToString();
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers["X-Demo-Origin"] = name;
        return context.Response.WriteAsync(
            $"Hello from Tether demo origin {name} (127.0.0.1:{local}).\n" +
            $"Upstream connection #{number} from {peer} has now carried {n} request(s): {(n > 1 ? "reused" : "new connection")}.\n" +
            $"You asked for {context.Request.Method} {context.Request.Path}{context.Request.QueryString}; X-Forwarded-For: {forwardedFor}\n");
    }
}
