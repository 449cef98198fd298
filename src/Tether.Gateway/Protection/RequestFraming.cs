using Microsoft.AspNetCore.Http;

namespace Tether.Gateway.Protection;

/// <summary>
/// The one framing ambiguity Kestrel lets through (the rest — duplicate or listed Content-Length, unknown or
/// repeated Transfer-Encoding, bad chunks — it rejects with 400 itself; tests/…/Protection/FramingTests
/// prove each): a request with both Content-Length and Transfer-Encoding. RFC 9112 §6.3 lets a server
/// read it as chunked, and Kestrel does (renaming Content-Length to X-Content-Length and closing after the
/// response), but it is the classic smuggling vector, so Tether refuses it outright, as HAProxy does
/// (<see cref="Forwarding.RequestValidator"/> answers it).
/// </summary>
internal static class RequestFraming
{
    public static bool IsAmbiguous(HttpRequest request)
    {
        var headers = request.Headers;
        if (headers.TransferEncoding.Count == 0)
        {
            return false;
        }

        return request.ContentLength is not null || headers.ContainsKey("X-Content-Length");
    }
}
