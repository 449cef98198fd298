using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Tether.Gateway.Forwarding;
using Tether.Upstream;
using Tether.Upstream.Destinations;

namespace Tether.Gateway.Observability;

/// <summary>
/// What every proxied request records, in the few hooks the request path calls: the request-duration histograms
/// (per route, method and status class; always on, a bucket search and two interlocked adds each), the upstream
/// exchange duration per destination, the same two on the <c>Tether</c> meter when something listens to it, and the
/// access-log entry while the access log is on. With the access log off a request allocates nothing here.
/// </summary>
internal sealed class RequestTelemetry
{
    private readonly Histogram<double> _requestDuration;
    private readonly Histogram<double> _exchangeDuration;

    public RequestTelemetry(AccessLog accessLog, TetherMeter meter, bool tracing = false)
    {
        AccessLog = accessLog;
        Tracing = tracing;
        _requestDuration = meter.Meter.CreateHistogram<double>(
            "http.server.request.duration", "s", "Duration of requests proxied by Tether, from their start in Tether to their end.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Upstream.Pooling.DurationHistogram.LatencyBoundsSeconds });
        _exchangeDuration = meter.Meter.CreateHistogram<double>(
            "tether.upstream.exchange.duration", "s", "Duration of each attempt at a destination, from asking for a connection to the last response byte.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Upstream.Pooling.DurationHistogram.LatencyBoundsSeconds });
    }

    public AccessLog AccessLog { get; }

    /// <summary>Whether requests get spans (<c>telemetry.tracing.sampleRatio</c> above 0; set at start).</summary>
    public bool Tracing { get; }

    /// <summary>Requests no route matched (404) or refused before routing (400).</summary>
    public RouteStatistics Unrouted { get; } = new("", "");

    /// <summary>At the request's start (<paramref name="started"/>: its <see cref="Stopwatch.GetTimestamp"/>): the
    /// access-log entry, put on the context as its response body (and a counting request body if it has one), or
    /// null while the access log is off.</summary>
    public AccessLogEntry? Begin(HttpContext context, long started)
    {
        if (!AccessLog.Enabled)
        {
            return null;
        }

        var features = context.Features;
        var entry = new AccessLogEntry(features.Get<IHttpResponseBodyFeature>()!, started);
        features.Set<IHttpResponseBodyFeature>(entry);
        var request = context.Request;
        if (request.ContentLength > 0 || (request.ContentLength is null && features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: true }))
        {
            var requestBody = new CountingRequestBody(request.BodyReader);
            features.Set<IRequestBodyPipeFeature>(requestBody);
            entry.RequestBody = requestBody;
        }

        return entry;
    }

    /// <summary>At the request's end (<paramref name="started"/>: its <see cref="Stopwatch.GetTimestamp"/>); <paramref name="route"/> null if none matched.</summary>
    /// <param name="span">The request's server span, if traced: its trace id is the access log's.</param>
    public void End(HttpContext context, long started, AccessLogEntry? entry, RouteStatistics? route, Activity? span = null)
    {
        var elapsed = Stopwatch.GetElapsedTime(started);
        var request = context.Request;
        var status = context.Response.StatusCode;
        route ??= Unrouted;
        route.Record(RouteStatistics.MethodIndex(request.Method), RouteStatistics.StatusClassIndex(status), elapsed);
        if (_requestDuration.Enabled)
        {
            _requestDuration.Record(elapsed.TotalSeconds, new TagList
            {
                { "tether.cluster", route.Cluster },
                { "http.route", route.Route },
                { "http.request.method", RouteStatistics.Methods[RouteStatistics.MethodIndex(request.Method)] },
                { "http.response.status_code", status },
            });
        }

        if (entry is null)
        {
            return;
        }

        var headers = request.Headers;
        entry.Client = RequestHeadWriter.ClientAddress(context);
        entry.Method = request.Method;
        entry.Host = request.Host.Value;
        entry.Target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? request.Path.Value ?? "";
        entry.Protocol = request.Protocol;
        entry.Status = status;
        entry.BytesIn = entry.RequestBody?.Bytes ?? 0;
        entry.DurationSeconds = elapsed.TotalSeconds;
        entry.Cluster = route.Cluster.Length == 0 ? null : route.Cluster;
        entry.Referer = headers.Referer.Count > 0 ? headers.Referer.ToString() : null;
        entry.UserAgent = headers.UserAgent.Count > 0 ? headers.UserAgent.ToString() : null;
        entry.TraceParent = span?.Id ?? (headers.TraceParent.Count > 0 ? headers.TraceParent.ToString() : null);
        entry.RequestBody = null;
        AccessLog.Enqueue(entry);
    }

    /// <summary>An attempt at <paramref name="destination"/> ended (<paramref name="started"/>: when it began).</summary>
    public void OnAttemptEnded(HttpContext context, DestinationState destination, long started)
    {
        var elapsed = Stopwatch.GetElapsedTime(started);
        destination.ExchangeDuration.Record(elapsed);
        if (_exchangeDuration.Enabled)
        {
            _exchangeDuration.Record(elapsed.TotalSeconds, new TagList { { "tether.cluster", destination.ClusterName }, { "tether.destination", destination.Name } });
        }

        if (AccessLog.Enabled)
        {
            AccessLogEntry.Of(context)?.OnAttemptEnded(destination.Name);
        }
    }

    /// <summary>The attempt under way has its connection: a reused one, or a new one.</summary>
    public void OnConnection(HttpContext context, bool reused)
    {
        if (AccessLog.Enabled)
        {
            AccessLogEntry.Of(context)?.OnConnection(reused);
        }
    }

    /// <summary>The request failed (or the client went away) in <paramref name="phase"/>.</summary>
    public static void OnError(HttpContext context, UpstreamPhase phase, UpstreamErrorKind kind) =>
        AccessLogEntry.Of(context)?.OnError(phase, kind);
}
