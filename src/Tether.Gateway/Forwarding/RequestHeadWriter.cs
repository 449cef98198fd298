using System.Buffers;
using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Tether.Gateway.Protection;
using Tether.Gateway.Listeners;
using Tether.Gateway.Observability;
using Tether.Upstream.Http1;

namespace Tether.Gateway.Forwarding;

/// <summary>How the request body goes to the backend; decided once from the client's framing.</summary>
internal enum RequestBodyMode
{
    None,
    ContentLength,
    Chunked,
}

/// <summary>
/// Re-serializes a client request (HTTP/1.1 or HTTP/2, as parsed by Kestrel) as an HTTP/1.1 request head for
/// a backend. Nothing the client sent is copied through as raw bytes: the request line, framing and
/// forwarding headers are rebuilt, hop-by-hop headers and those the client's Connection header nominates
/// are dropped.
/// </summary>
internal static class RequestHeadWriter
{
    public static RequestBodyMode DecideBodyMode(HttpRequest request, out long contentLength)
    {
        contentLength = request.ContentLength ?? -1;
        if (contentLength > 0)
        {
            return RequestBodyMode.ContentLength;
        }

        if (contentLength == 0)
        {
            // Forward "Content-Length: 0" as sent (some backends answer 411 to a bodiless POST without it).
            return RequestBodyMode.ContentLength;
        }

        var detection = request.HttpContext.Features.Get<IHttpRequestBodyDetectionFeature>();
        return detection is { CanHaveBody: true } ? RequestBodyMode.Chunked : RequestBodyMode.None;
    }

    /// <param name="target">The request target, validated and normalised by <see cref="RequestValidator"/>, as are
    /// the method and every header name and value written here.</param>
    public static void Write(
        IBufferWriter<byte> output, HttpContext context, string target, RequestBodyMode bodyMode, long contentLength, bool upgrade, string fallbackHost,
        bool lastRequest = false, bool webSocketOverHttp2 = false, RouteTransforms? transforms = null, bool addForwarded = false, Activity? span = null)
    {
        var request = context.Request;

        // RFC 8441's CONNECT with :protocol websocket is RFC 6455's GET with Upgrade on HTTP/1.1.
        Http1RequestWriter.WriteRequestLine(output, webSocketOverHttp2 ? HttpMethods.Get : request.Method, target);

        // An h2c upgrade is never honoured: a backend that accepted it would speak HTTP/2 through a tunnel
        // that Tether's routing and limits no longer see (h2c smuggling). It goes on as a plain request.
        upgrade &= !IsH2c(request.Headers.Upgrade);

        var headers = request.Headers;
        var nominated = headers.Connection;
        string? host = null;
        foreach (var header in HeaderEntries.Of(headers))
        {
            var name = header.Key;
            if (IsDropped(name, nominated) || (span is not null && RequestTracing.IsTraceContext(name)))
            {
                continue;
            }

            if (name.Length == 4 && string.Equals(name, HeaderNames.Host, StringComparison.OrdinalIgnoreCase))
            {
                host = header.Value.ToString();
            }

            if (transforms is not null && transforms.SkipsRequestHeader(name))
            {
                continue;
            }

            var values = header.Value;
            if (values.Count == 1)
            {
                Http1RequestWriter.WriteHeader(output, name, values[0]);
            }
            else
            {
                foreach (var value in values)
                {
                    Http1RequestWriter.WriteHeader(output, name, value);
                }
            }
        }

        if (host is null && transforms is not { SetsHost: true })
        {
            // HTTP/1.0 clients may omit Host; HTTP/1.1 backends require it.
            Http1RequestWriter.WriteHeader(output, "Host"u8, fallbackHost);
        }

        transforms?.WriteRequestHeaders(output, context);
        WriteForwardedFor(output, context, headers);
        if (Forwarded(context, headers, addForwarded) is { } forwarded)
        {
            Http1RequestWriter.WriteHeader(output, "Forwarded"u8, forwarded);
        }

        Http1RequestWriter.WriteHeader(output, "X-Forwarded-Proto"u8, request.Scheme);
        if (host is not null)
        {
            Http1RequestWriter.WriteHeader(output, "X-Forwarded-Host"u8, host);
        }

        if (span is not null)
        {
            // The attempt's span is the backend's parent; the client's tracestate goes on with it.
            Http1RequestWriter.WriteHeader(output, "traceparent"u8, span.Id);
            if (span.TraceStateString is { } traceState)
            {
                Http1RequestWriter.WriteHeader(output, "tracestate"u8, traceState);
            }
        }

        if (webSocketOverHttp2)
        {
            // HTTP/2 WebSockets carry no key (the stream is the proof); an HTTP/1.1 backend needs one (RFC 6455 §4.1).
            Http1RequestWriter.WriteHeader(output, "Connection"u8, "upgrade");
            Http1RequestWriter.WriteHeader(output, "Upgrade"u8, "websocket");
            Http1RequestWriter.WriteHeader(output, "Sec-WebSocket-Key"u8, Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)));
        }
        else if (upgrade)
        {
            Http1RequestWriter.WriteHeader(output, "Connection"u8, "upgrade");
            Http1RequestWriter.WriteHeader(output, "Upgrade"u8, headers.Upgrade.ToString());
        }
        else if (lastRequest)
        {
            // The connection will not carry another request: the backend closes first, so the TIME_WAIT lands on
            // its side, not on Tether's (whose TIME_WAIT sockets hold ephemeral ports and slow every connect()).
            Http1RequestWriter.WriteHeader(output, "Connection"u8, "close");
        }

        switch (bodyMode)
        {
            case RequestBodyMode.ContentLength:
                Http1RequestWriter.WriteContentLength(output, contentLength);
                break;
            case RequestBodyMode.Chunked:
                Http1RequestWriter.WriteHeader(output, "Transfer-Encoding"u8, "chunked");
                break;
        }

        Http1RequestWriter.WriteEndOfHead(output);
    }

    // X-Forwarded-For names the client Tether saw (after the PROXY protocol). A client's own value is a claim
    // anyone can make, so it is replaced, unless the peer is a proxy in downstream.trustedProxies: then the
    // chain it reports is kept and the peer appended (nginx $proxy_add_x_forwarded_for with set_real_ip_from).
    private static void WriteForwardedFor(IBufferWriter<byte> output, HttpContext context, IHeaderDictionary headers) =>
        Http1RequestWriter.WriteHeader(output, "X-Forwarded-For"u8, ForwardedFor(context, headers));

    /// <summary>The X-Forwarded-For value sent to the backend (see <see cref="WriteForwardedFor"/>).</summary>
    internal static string? ForwardedFor(HttpContext context, IHeaderDictionary headers)
    {
        var peer = ClientAddress(context);
        if (context.Features.Get<ClientConnectionFeature>() is { IsTrustedProxy: true } && headers.TryGetValue("X-Forwarded-For", out var chain) && !StringValues.IsNullOrEmpty(chain))
        {
            // Several header lines are one comma-separated list (RFC 9110 §5.3).
            var list = chain.Count == 1 ? chain[0] : string.Join(", ", (IEnumerable<string?>)chain);
            return list + ", " + peer;
        }

        return peer;
    }

    /// <summary>
    /// The RFC 7239 Forwarded value sent to the backend, or null for none. Like X-Forwarded-For: a client's own
    /// Forwarded is a claim anyone can make, so it is dropped unless the peer is a trusted proxy (then kept); with
    /// downstream.addForwarded Tether's own element (for, proto, host) is appended.
    /// </summary>
    internal static string? Forwarded(HttpContext context, IHeaderDictionary headers, bool add)
    {
        string? chain = null;
        if (context.Features.Get<ClientConnectionFeature>() is { IsTrustedProxy: true } && headers.TryGetValue("Forwarded", out var values) && !StringValues.IsNullOrEmpty(values))
        {
            chain = values.Count == 1 ? values[0] : string.Join(", ", (IEnumerable<string?>)values);
        }

        if (!add)
        {
            return chain;
        }

        // RFC 7239 §6: an IPv6 node is bracketed and then quoted (':' is no token character); so is a host with a port.
        var client = ClientAddress(context);
        var node = client is null ? "unknown" : client.Contains(':', StringComparison.Ordinal) ? "\"[" + client + "]\"" : client;
        var host = context.Request.Host.Value;
        var element = string.IsNullOrEmpty(host)
            ? $"for={node};proto={context.Request.Scheme}"
            : $"for={node};proto={context.Request.Scheme};host=\"{host}\"";
        return chain is null ? element : chain + ", " + element;
    }

    /// <summary>The client's address as Tether saw it: after the PROXY protocol, else the peer's.</summary>
    internal static string? ClientAddress(HttpContext context)
    {
        var connection = context.Features.Get<DownstreamConnection>();
        if (connection is null)
        {
            return context.Connection.RemoteIpAddress?.ToString();
        }

        return connection.ClientAddress ??= context.Connection.RemoteIpAddress?.ToString();
    }

    /// <summary>As <see cref="ClientAddress(HttpContext)"/>, from a request's features alone (a request Kestrel refused
    /// before it made a context).</summary>
    internal static string? ClientAddress(IFeatureCollection features)
    {
        var remote = features.Get<IHttpConnectionFeature>()?.RemoteIpAddress;
        var connection = features.Get<DownstreamConnection>();
        return connection is null ? remote?.ToString() : connection.ClientAddress ??= remote?.ToString();
    }

    /// <summary>Whether a client header stays out of the backend request: pseudo-headers, hop-by-hop headers and
    /// those Connection nominates, framing, and the forwarding headers Tether writes itself.</summary>
    internal static bool IsDropped(string name, StringValues nominated)
    {
        if (name.Length == 0 || name[0] == ':' || HttpTokens.IsHopByHop(name))
        {
            return true;
        }

        switch (name.Length)
        {
            case 6 when string.Equals(name, HeaderNames.Expect, StringComparison.OrdinalIgnoreCase):
            case 14 when string.Equals(name, HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase)
                || string.Equals(name, "HTTP2-Settings", StringComparison.OrdinalIgnoreCase):
            case 9 when string.Equals(name, "Forwarded", StringComparison.OrdinalIgnoreCase):
            case 15 when string.Equals(name, "X-Forwarded-For", StringComparison.OrdinalIgnoreCase):
            case 16 when string.Equals(name, "X-Forwarded-Host", StringComparison.OrdinalIgnoreCase):
            case 17 when string.Equals(name, "X-Forwarded-Proto", StringComparison.OrdinalIgnoreCase):
                return true;
        }

        return nominated.Count > 0 && IsNominated(name, nominated);
    }

    internal static bool IsH2c(StringValues upgrade)
    {
        foreach (var value in upgrade)
        {
            if (value is not null && value.Contains("h2c", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsNominated(string name, StringValues connection)
    {
        foreach (var value in connection)
        {
            if (value is null)
            {
                continue;
            }

            foreach (var range in value.AsSpan().Split(','))
            {
                if (value.AsSpan(range).Trim().Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }
}
