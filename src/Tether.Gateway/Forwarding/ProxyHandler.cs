using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
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
    public Task HandleAsync(HttpContext context) => HandleValueAsync(context).AsTask();

    /// <summary>The same, for the "tether" engine, which awaits it as it is: the pooled state machine allocates nothing
    /// per request (a Task-returning async method boxes its state machine on every request that waits).</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask HandleValueAsync(HttpContext context)
    {
        statistics.OnRequestStarted();
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var entry = telemetry.Begin(context, started);
        var span = RequestTracing.StartServer(telemetry.Tracing, context);
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
                Log.Rejected(logger, context.Request.Protocol, RequestHeadWriter.ClientAddress(context), reason!, ErrorResponse.RequestId(context));
                await RequestValidator.RejectAsync(context, rejection, reason!).ConfigureAwait(false);
                return;
            }

            ApplyConnectionPolicy(context, current.Connections);

            // Routed on the very path that is forwarded (normalised), never on a different reading of the target.
            var matched = current.Routes.Find(context.Request.Host.Value, target.RoutePath, context.Request);
            if (matched is null)
            {
                counters.OnNotFound();
                await ErrorResponse.WriteAsync(context, StatusCodes.Status404NotFound, "no route matches this request").ConfigureAwait(false);
                return;
            }

            route = matched.Statistics;
            if (matched.RateLimiter is { } limiter && !limiter.TryAcquire(context, out var retryAfter))
            {
                Log.RateLimited(logger, RequestHeadWriter.ClientAddress(context), limiter.Route, retryAfter, ErrorResponse.RequestId(context));
                context.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await ErrorResponse.WriteAsync(context, limiter.Config.Status, "too many requests; retry after the time Retry-After gives").ConfigureAwait(false);
                return;
            }

            if (!ApplyBodyLimit(context, matched.MaxRequestBodySize))
            {
                Log.BodyTooLarge(logger, RequestHeadWriter.ClientAddress(context), context.Request.ContentLength ?? -1, matched.MaxRequestBodySize, ErrorResponse.RequestId(context));
                ErrorResponse.CloseAfter(context);
                await ErrorResponse.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "the request body is larger than this route allows").ConfigureAwait(false);
                return;
            }

            if (matched.Answer is { } answer)
            {
                await answer.AnswerAsync(context).ConfigureAwait(false);
                return;
            }

            var forwarded = matched.Transforms is { } transforms ? transforms.Rewrite(target.Target) : target.Target;
            await forwarder.ForwardAsync(context, matched, forwarded, span).ConfigureAwait(false);
        }
        finally
        {
            RequestTracing.EndServer(span, context, route);
            telemetry.End(context, started, entry, route, span);
            statistics.OnRequestEnded();
        }
    }

    // nginx client_max_body_size. A declared length over the limit is refused here, before any backend is involved; a
    // body of unknown length (chunked, HTTP/2 DATA) is counted by Kestrel, which throws BadHttpRequestException(413)
    // from the read that passes the limit: the forwarder then drops the backend connection or resets its stream
    // mid-request (no complete request lands) and answers 413 if no response has started.
    private static bool ApplyBodyLimit(HttpContext context, long limit)
    {
        if (limit <= 0)
        {
            return true; // Kestrel's own limit is off for every request (TetherGateway)
        }

        if (context.Request.ContentLength > limit)
        {
            return false;
        }

        // A tunnel (HTTP/1.1 Upgrade, HTTP/2 extended CONNECT) carries a stream, not a body: it is never cut off.
        if (context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } || RequestValidator.IsWebSocketOverHttp2(context))
        {
            return true;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = limit;
        }

        return true;
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
            Message = "refused a {Protocol} request from {Client} before any backend: {Reason} request={RequestId}")]
        public static partial void Rejected(ILogger logger, string protocol, string? client, string reason, string requestId);

        [LoggerMessage(EventId = 2031, EventName = "RateLimited", Level = LogLevel.Debug,
            Message = "rate limit of route {Route} reached by {Client}: answered without a backend, retry after {RetryAfterSeconds}s request={RequestId}")]
        public static partial void RateLimited(ILogger logger, string? client, string route, int retryAfterSeconds, string requestId);

        [LoggerMessage(EventId = 2032, EventName = "RequestBodyTooLarge", Level = LogLevel.Debug,
            Message = "413 to {Client} before any backend: Content-Length {ContentLength} is over the route's maxRequestBodySize {Limit} request={RequestId}")]
        public static partial void BodyTooLarge(ILogger logger, string? client, long contentLength, long limit, string requestId);
    }
}
