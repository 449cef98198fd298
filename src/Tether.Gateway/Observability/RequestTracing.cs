using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Tether.Upstream;
using Tether.Upstream.Destinations;

namespace Tether.Gateway.Observability;

/// <summary>
/// The spans of a proxied request, on the <c>Tether</c> <see cref="ActivitySource"/>: one server span per request and
/// one client span per upstream attempt (a retry is a span of its own, with its attempt number), whose context goes
/// to the backend as the W3C traceparent (and the client's tracestate). Made only while
/// <c>telemetry.tracing.sampleRatio</c> is above 0: at 0 <see cref="StartServer"/> returns null before any
/// ActivitySource call, every other method returns at its null check, and the client's traceparent reaches the
/// backend as it was sent — the request path allocates nothing for tracing.
/// </summary>
/// <remarks>The server span's parent is the client's traceparent, never <see cref="Activity.Current"/>: ASP.NET's
/// hosting may have started an activity of its own for the request (when its diagnostics log category is on), which
/// is exported by nobody, so a parent link to it would point at a span no collector has.</remarks>
internal static class RequestTracing
{
    public const string SourceName = "Tether";

    public static readonly ActivitySource Source = new(SourceName, TelemetrySnapshot.Build.Version);

    /// <summary>A server span for the request, or null when <paramref name="enabled"/> is false or the sampler made
    /// none. Its parent is the client's traceparent, if valid.</summary>
    public static Activity? StartServer(bool enabled, HttpContext context) => enabled ? StartServer(context) : null;

    /// <summary>A client span for attempt number <paramref name="attempt"/> (1 = the first) at <paramref name="destination"/>,
    /// child of <paramref name="server"/>; null without a server span.</summary>
    public static Activity? StartAttempt(Activity? server, HttpContext context, DestinationState destination, int attempt)
    {
        if (server is null)
        {
            return null;
        }

        var span = Source.StartActivity(context.Request.Method, ActivityKind.Client, server.Context);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("tether.cluster", destination.ClusterName);
            span.SetTag("tether.destination", destination.Name);
            span.SetTag("tether.attempt", attempt);
            span.SetTag("http.request.method", context.Request.Method);
            var (host, port) = HostAndPort(destination.Name);
            span.SetTag("server.address", host);
            span.SetTag("server.port", port);
        }

        return span;
    }

    /// <summary>The attempt got a connection: an open one (<paramref name="reused"/>), or a new one.</summary>
    public static void OnConnection(Activity? attempt, bool reused)
    {
        if (attempt is { IsAllDataRequested: true })
        {
            attempt.SetTag("tether.connection.reused", reused);
        }
    }

    /// <summary>Ends an attempt's span: with its error (phase and cause) if it failed, else the backend's status.</summary>
    public static void EndAttempt(Activity? attempt, HttpContext context, UpstreamException? error)
    {
        if (attempt is null)
        {
            return;
        }

        if (attempt.IsAllDataRequested)
        {
            if (error is not null)
            {
                attempt.SetTag("tether.error.phase", Admin.Names.Camel(error.Phase));
                attempt.SetTag("error.type", Admin.Names.Camel(error.Kind));
                attempt.SetStatus(ActivityStatusCode.Error, error.Message);
            }
            else
            {
                attempt.SetTag("http.response.status_code", context.Response.StatusCode);
            }
        }

        attempt.Stop();
    }

    /// <summary>Ends the server span with the answer's status, the route and cluster it took (null: none matched).</summary>
    public static void EndServer(Activity? server, HttpContext context, RouteStatistics? route)
    {
        if (server is null)
        {
            return;
        }

        if (server.IsAllDataRequested)
        {
            var status = context.Response.StatusCode;
            server.SetTag("http.response.status_code", status);
            if (route is not null)
            {
                server.SetTag("http.route", route.Route);
                server.SetTag("tether.cluster", route.Cluster);
                server.DisplayName = context.Request.Method + " " + route.Route;
            }

            if (status >= 500)
            {
                server.SetTag("error.type", status.ToString(System.Globalization.CultureInfo.InvariantCulture));
                server.SetStatus(ActivityStatusCode.Error);
            }
        }

        server.Stop();
    }

    /// <summary>Whether a request header is trace context that Tether writes itself while it traces the request.</summary>
    public static bool IsTraceContext(string name) =>
        (name.Length == 11 && string.Equals(name, "traceparent", StringComparison.OrdinalIgnoreCase))
        || (name.Length == 10 && string.Equals(name, "tracestate", StringComparison.OrdinalIgnoreCase));

    private static Activity? StartServer(HttpContext context)
    {
        var request = context.Request;
        var headers = request.Headers;
        string? traceParent = headers.TraceParent;
        string? traceState = headers.TraceState;
        var parent = default(ActivityContext);
        if (traceParent is not null)
        {
            _ = ActivityContext.TryParse(traceParent, traceState, isRemote: true, out parent);
        }

        // See the remarks: a root or the client's child, never a child of ASP.NET's activity. This only changes the
        // request's own async flow (restored when HandleAsync returns).
        Activity.Current = null;
        var span = Source.StartActivity(request.Method, ActivityKind.Server, parent);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("http.request.method", request.Method);
            span.SetTag("url.path", request.Path.Value);
            span.SetTag("url.scheme", request.Scheme);
            span.SetTag("network.protocol.version", NetworkProtocolVersion(request.Protocol));
            span.SetTag("client.address", Forwarding.RequestHeadWriter.ClientAddress(context));
            if (headers.UserAgent.Count > 0)
            {
                span.SetTag("user_agent.original", headers.UserAgent.ToString());
            }
        }

        return span;
    }

    private static string NetworkProtocolVersion(string protocol) => protocol switch
    {
        "HTTP/1.1" => "1.1",
        "HTTP/2" => "2",
        "HTTP/1.0" => "1.0",
        "HTTP/3" => "3",
        _ => protocol,
    };

    private static (string Host, int Port) HostAndPort(string name)
    {
        var colon = name.LastIndexOf(':');
        return colon > 0 && int.TryParse(name.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture, out var port)
            ? (name[..colon].Trim('[', ']'), port)
            : (name, 0);
    }
}
