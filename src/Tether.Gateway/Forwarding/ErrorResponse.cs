using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Tether.Gateway.Forwarding;

/// <summary>
/// Every answer Tether makes itself in place of a backend's (400, 404, 405, 413, 429, 502, 503, 504): the status, a
/// short text that names the cluster at most (never a destination's address: that is for the log line), and the
/// request id, in the body and in X-Request-Id, which the log line about the request also carries.
/// </summary>
internal static class ErrorResponse
{
    public const string RequestIdHeader = "X-Request-Id";

    /// <summary>The request's id: Kestrel's connection id and stream (or request) number, made on first use.</summary>
    public static string RequestId(HttpContext context) => context.TraceIdentifier;

    public static Task WriteAsync(HttpContext context, int status, string text)
    {
        var response = context.Response;
        var id = RequestId(context);
        response.StatusCode = status;
        response.Headers[RequestIdHeader] = id;
        response.ContentType = "text/plain; charset=utf-8";
        var reason = Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);
        return HttpMethods.IsHead(context.Request.Method)
            ? Task.CompletedTask
            : response.WriteAsync($"{status} {reason}: {text}\nrequest id: {id}\n");
    }

    /// <summary>The id header alone, for answers whose body is not Tether's to write (gRPC status, a client body cut off).</summary>
    public static void MarkRequestId(HttpContext context) =>
        context.Response.Headers[RequestIdHeader] = RequestId(context);

    /// <summary>After a response that leaves the request body unread: HTTP/1.1 closes the connection rather than drain it.</summary>
    public static void CloseAfter(HttpContext context)
    {
        if (HttpProtocol.IsHttp11(context.Request.Protocol) || HttpProtocol.IsHttp10(context.Request.Protocol))
        {
            context.Response.Headers[HeaderNames.Connection] = "close";
        }
    }
}
