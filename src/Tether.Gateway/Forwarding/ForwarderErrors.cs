using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Tether.Gateway.Observability;
using Tether.Upstream;
using Tether.Upstream.Destinations;

namespace Tether.Gateway.Forwarding;

/// <summary>
/// The one place where an upstream failure becomes a status code, a log line and a counter.
/// 502: refused, reset, closed, bad response. 504: timeouts. 503: no capacity, no destination.
/// </summary>
internal sealed partial class ForwarderErrors(ILogger<ForwarderErrors> logger, GatewayCounters counters)
{
    public static int StatusCodeFor(UpstreamErrorKind kind) => kind switch
    {
        UpstreamErrorKind.Timeout => StatusCodes.Status504GatewayTimeout,
        UpstreamErrorKind.NoCapacity => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status502BadGateway,
    };

    public async Task FailAsync(HttpContext context, ClusterState cluster, DestinationState destination, UpstreamException error, bool reused)
    {
        destination.OnFailure();
        var status = StatusCodeFor(error.Kind);
        counters.OnUpstreamError(error.Phase, error.Kind);
        RequestTelemetry.OnError(context, error.Phase, error.Kind);
        Log.UpstreamFailed(logger, status, cluster.Name, destination.Name, error.Phase, error.Kind, error.Message, reused, context.Request.Method, context.Request.Path, ErrorResponse.RequestId(context));

        var response = context.Response;
        if (response.HasStarted)
        {
            // Headers already went to the client: the only honest signal left is to cut the connection.
            context.Abort();
            return;
        }

        // Clear drops what the backend's head put there, but also the downstream policy's "Connection: close"
        // (keepalive_requests, lifetime, draining) and "Keep-Alive": those describe the client connection and stay.
        var connection = response.Headers.Connection;
        var keepAlive = response.Headers.KeepAlive;
        response.Clear();
        response.Headers.Connection = connection;
        response.Headers.KeepAlive = keepAlive;
        if (IsGrpc(context.Request))
        {
            AnswerGrpc(context, error.Kind == UpstreamErrorKind.Timeout ? GrpcDeadlineExceeded : GrpcUnavailable, $"upstream {error.Phase} failed ({error.Kind})");
            return;
        }

        // The phase and cause only: the backend's address is the log line's, never the client's to see.
        await ErrorResponse.WriteAsync(context, status, $"upstream {error.Phase} failed ({error.Kind})").ConfigureAwait(false);
    }

    private const int GrpcDeadlineExceeded = 4;
    private const int GrpcUnavailable = 14;

    /// <summary>A gRPC request (application/grpc, +proto, +json …): its failures are answered with grpc-status.</summary>
    internal static bool IsGrpc(HttpRequest request) =>
        request.ContentType is { } type && type.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);

    // A gRPC client reads failures from grpc-status, not from the HTTP status: a "trailers-only" answer (HTTP 200,
    // the status in the only HEADERS frame), as Envoy and grpc-go's proxies give it. The message names no backend.
    private static void AnswerGrpc(HttpContext context, int grpcStatus, string message)
    {
        var response = context.Response;
        ErrorResponse.MarkRequestId(context);
        message += "; request id " + ErrorResponse.RequestId(context);
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = grpcStatus.ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = Uri.EscapeDataString(message);
    }

    public async Task NoDestinationAsync(HttpContext context, ClusterState cluster)
    {
        counters.OnUpstreamError(UpstreamPhase.Queue, UpstreamErrorKind.NoCapacity);
        RequestTelemetry.OnError(context, UpstreamPhase.Queue, UpstreamErrorKind.NoCapacity);
        Log.NoDestination(logger, cluster.Name, ErrorResponse.RequestId(context));
        if (IsGrpc(context.Request))
        {
            AnswerGrpc(context, GrpcUnavailable, "no destination available");
            return;
        }

        await ErrorResponse.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, $"cluster '{cluster.Name}' has no destination to send to").ConfigureAwait(false);
    }

    public void ClientAborted(HttpContext context, ClusterState cluster, DestinationState destination, UpstreamException error)
    {
        counters.OnClientAborted();
        RequestTelemetry.OnError(context, error.Phase, UpstreamErrorKind.ClientAborted);
        Log.ClientAborted(logger, cluster.Name, destination.Name, error.Phase, context.Request.Method, context.Request.Path);
    }

    /// <summary>The client's request body was rejected by Kestrel mid-stream: its status (400, 408, 413) goes to the
    /// client if no response has started, and the backend connection has already been dropped.</summary>
    public async Task ClientBadRequestAsync(HttpContext context, ClusterState cluster, DestinationState? destination, BadHttpRequestException error)
    {
        counters.OnClientAborted();
        RequestTelemetry.OnError(context, UpstreamPhase.SendBody, UpstreamErrorKind.ClientAborted);
        Log.ClientBadRequest(logger, error.StatusCode, cluster.Name, destination?.Name ?? "(none yet)", context.Request.Method, context.Request.Path, error.Message, ErrorResponse.RequestId(context));
        var response = context.Response;
        if (response.HasStarted)
        {
            return;
        }

        // What the backend's head may have put there goes, as in FailAsync; the client connection closes.
        response.Clear();
        response.Headers.Connection = "close";
        var text = error.StatusCode == StatusCodes.Status413PayloadTooLarge ? "the request body is larger than this route allows" : "the request body was rejected";
        try
        {
            await ErrorResponse.WriteAsync(context, error.StatusCode, text).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The client is gone; the status was the point.
        }
    }

    /// <summary>The client went away while its body was being received, before any backend was involved.</summary>
    public void ClientAbortedBeforeUpstream(HttpContext context, ClusterState cluster)
    {
        counters.OnClientAborted();
        RequestTelemetry.OnError(context, UpstreamPhase.SendBody, UpstreamErrorKind.ClientAborted);
        Log.ClientAborted(logger, cluster.Name, "(none yet)", UpstreamPhase.SendBody, context.Request.Method, context.Request.Path);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1100, EventName = "UpstreamFailed", Level = LogLevel.Warning,
            Message = "{Status} cluster={Cluster} destination={Destination} phase={Phase} cause={Kind}: {Detail} (reused connection: {Reused}) for {Method} {Path} request={RequestId}")]
        public static partial void UpstreamFailed(ILogger logger, int status, string cluster, string destination, UpstreamPhase phase, UpstreamErrorKind kind, string detail, bool reused, string method, PathString path, string requestId);

        [LoggerMessage(EventId = 1101, EventName = "NoDestination", Level = LogLevel.Warning,
            Message = "503 cluster={Cluster}: no destination available request={RequestId}")]
        public static partial void NoDestination(ILogger logger, string cluster, string requestId);

        [LoggerMessage(EventId = 1102, EventName = "ClientAborted", Level = LogLevel.Debug,
            Message = "client went away: cluster={Cluster} destination={Destination} phase={Phase} for {Method} {Path}")]
        public static partial void ClientAborted(ILogger logger, string cluster, string destination, UpstreamPhase phase, string method, PathString path);

        [LoggerMessage(EventId = 1103, EventName = "ClientBadRequest", Level = LogLevel.Debug,
            Message = "{Status} to the client: its request body was rejected mid-stream (any backend connection dropped): cluster={Cluster} destination={Destination} for {Method} {Path}: {Reason} request={RequestId}")]
        public static partial void ClientBadRequest(ILogger logger, int status, string cluster, string destination, string method, PathString path, string reason, string requestId);
    }
}
