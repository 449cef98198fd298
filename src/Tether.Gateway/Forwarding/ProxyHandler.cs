using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;
using Tether.Gateway.Draining;
using Tether.Gateway.Listeners;
using Tether.Gateway.Observability;

namespace Tether.Gateway.Forwarding;

/// <summary>The request delegate of the proxy listeners: downstream keep-alive policy, route, forward.</summary>
internal sealed partial class ProxyHandler(
    Forwarder forwarder, Func<GatewayModel> model, DownstreamStatistics statistics, GatewayCounters counters, RequestTelemetry telemetry, Drainer drainer, Recycler recycler,
    ILogger<ProxyHandler> logger)
{
    public async Task HandleAsync(HttpContext context)
    {
        statistics.OnRequestStarted();
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var entry = telemetry.Begin(context, started);
        RouteStatistics? route = null;
        try
        {
            // Read once: the whole request runs on this model even if a reload swaps it meanwhile.
            var current = model();

            // Everything written upstream is checked once, here, before any route or backend is involved.
            var rejection = RequestValidator.Validate(context, current.Config.Downstream.UnderscoresInHeaders, out var target, out var reason);
            if (rejection != RequestRejection.None)
            {
                counters.OnRejected();
                Log.Rejected(logger, context.Request.Protocol, RequestHeadWriter.ClientAddress(context), reason!);
                await RequestValidator.RejectAsync(context, rejection, reason!).ConfigureAwait(false);
                return;
            }

            ApplyConnectionPolicy(context, current.Connections);

            // Routed on the very path that is forwarded (normalised), never on a different reading of the target.
            var cluster = current.Routes.Match(context.Request.Host.Value, target.RoutePath, out route, out var compression);
            if (cluster is null)
            {
                counters.OnNotFound();
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                context.Response.ContentType = "text/plain; charset=utf-8";
                await context.Response.WriteAsync("404 Not Found: no route matches this host and path\n").ConfigureAwait(false);
                return;
            }

            await forwarder.ForwardAsync(context, cluster, target.Target, compression).ConfigureAwait(false);
        }
        finally
        {
            telemetry.End(context, started, entry, route);
            statistics.OnRequestEnded();
        }
    }

    // nginx keepalive_requests / keepalive_time, draining and recycling. HTTP/1.x: the response says
    // "Connection: close" and Kestrel closes the connection after sending it. HTTP/2: the connection is asked
    // to close (GOAWAY; streams in flight finish). While nothing of the sort is on, this costs the feature
    // lookup, two volatile reads and an integer compare.
    private void ApplyConnectionPolicy(HttpContext context, ConnectionPolicy policy)
    {
        var connection = context.Features.Get<DownstreamConnection>();
        if (connection is null)
        {
            return;
        }

        var http1 = HttpProtocol.IsHttp11(context.Request.Protocol) || HttpProtocol.IsHttp10(context.Request.Protocol);
        var close = drainer.IsClosing;
        if (http1)
        {
            close |= policy.ReachedRequestCap(++connection.RequestCount);
        }

        close = close || policy.ReachedLifetime(connection) || (recycler.Current is { } epoch && recycler.ShouldClose(epoch, connection));
        if (!close)
        {
            if (http1 && policy.KeepAliveHeader is { } keepAlive)
            {
                context.Response.Headers[HeaderNames.KeepAlive] = keepAlive;
            }

            return;
        }

        if (http1)
        {
            context.Response.Headers.Connection = "close";
        }
        else
        {
            context.Features.Get<IConnectionLifetimeNotificationFeature>()?.RequestClose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2030, EventName = "RequestRejected", Level = LogLevel.Debug,
            Message = "refused a {Protocol} request from {Client} before any backend: {Reason}")]
        public static partial void Rejected(ILogger logger, string protocol, string? client, string reason);
    }
}
