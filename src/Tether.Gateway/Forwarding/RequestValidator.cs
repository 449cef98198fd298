using System.Buffers;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;
using Tether.Configuration;
using Tether.Upstream.Http1;

namespace Tether.Gateway.Forwarding;

/// <summary>
/// What a valid request sends upstream: the request target written into the backend's request line, and the
/// path the routes are matched on, which is that same target's path decoded (so a route can never be chosen
/// for one path while the backend is sent another).
/// </summary>
internal readonly struct UpstreamTarget
{
    private readonly int _pathLength;
    private readonly string? _routePath;

    public UpstreamTarget(string target, int pathLength, string? routePath)
    {
        Target = target;
        _pathLength = pathLength;
        _routePath = routePath;
    }

    /// <summary>Origin-form (or "*"), ASCII, no space, control byte or '#', dot segments removed.</summary>
    public string Target { get; }

    /// <summary>The path routes see: <see cref="Target"/>'s path with its percent-escapes decoded, except %2F.</summary>
    public ReadOnlySpan<char> RoutePath => _routePath is null ? Target.AsSpan(0, _pathLength) : _routePath;
}

/// <summary>Why a request was refused before it reached any backend.</summary>
internal enum RequestRejection
{
    None,

    /// <summary>Malformed: 400 on HTTP/1.x, a stream error (PROTOCOL_ERROR) on HTTP/2.</summary>
    Malformed,

    /// <summary>CONNECT: a reverse proxy has nothing to tunnel it to; 405.</summary>
    MethodNotAllowed,
}

/// <summary>
/// The one validation point for everything Tether writes into an upstream request line and header block,
/// whatever the client's protocol. Kestrel's HTTP/2 decoder lets CR, LF and ':' through in header names, and
/// both of its parsers let bytes through that an HTTP/1.1 request line or header field must not carry; copied
/// verbatim, those would let a client write its own header lines or a second request into a pooled backend
/// connection (issue 11). So: the method and every header name must be an RFC 9110 token, every value free of
/// CR, LF, NUL and other control bytes, the Host a valid authority, and the target a valid origin-form
/// (RFC 9112 §3.2.1), which is then normalised (RFC 3986 §6.2.2: unreserved escapes decoded, dot segments
/// removed) and forwarded in that normalised form, the form the routes are matched on.
/// </summary>
internal static class RequestValidator
{
    // RFC 9110 §5.5 field-value: VCHAR, obs-text, SP, HTAB (a value is a Latin-1 string: Kestrel decodes them so).
    private static readonly SearchValues<char> s_fieldValue = SearchValues.Create(FieldValueChars());

    // RFC 3986 authority characters for a Host header: reg-name / IP-literal, then ":" port.
    private static readonly SearchValues<char> s_authority = SearchValues.Create(
        "-._~!$&'()*+,;=:[]%0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");

    // Printable ASCII but '#' (a fragment never travels) and '?' (which ends the path). Stricter than RFC 3986's
    // pchar only where no request line can be misread: browsers send "|", "^", "[", "]" and the like unescaped,
    // and nginx, HAProxy and Kestrel take them.
    private static readonly SearchValues<char> s_pathChars = SearchValues.Create(PrintableAsciiExcept("#?"));
    private static readonly SearchValues<char> s_queryChars = SearchValues.Create(PrintableAsciiExcept("#"));

    /// <summary>
    /// Checks the request; on success returns <see cref="RequestRejection.None"/> and the target to forward. On
    /// failure <paramref name="reason"/> says what was wrong, for the log and the 400 body (it never echoes the
    /// offending bytes).
    /// </summary>
    /// <param name="underscores">downstream.underscoresInHeaders: headers named with "_" are dropped here, refused, or kept.</param>
    public static RequestRejection Validate(HttpContext context, UnderscoreHeaders underscores, out UpstreamTarget target, out string? reason)
    {
        var request = context.Request;
        target = default;
        var method = request.Method;
        if (!HttpTokens.IsToken(method))
        {
            reason = "the method is not a token";
            return RequestRejection.Malformed;
        }

        // Tether is no forward proxy; the one CONNECT it takes is HTTP/2's WebSocket bootstrap (RFC 8441).
        if (method.Length == 7 && string.Equals(method, HttpMethods.Connect, StringComparison.Ordinal) && !IsWebSocketOverHttp2(context))
        {
            reason = "CONNECT is not proxied";
            return RequestRejection.MethodNotAllowed;
        }

        if (Protection.RequestFraming.IsAmbiguous(request))
        {
            reason = "both Content-Length and Transfer-Encoding";
            return RequestRejection.Malformed;
        }

        reason = ValidateHeaders(request.Headers, underscores) ?? ValidateTarget(context, out target);
        return reason is null ? RequestRejection.None : RequestRejection.Malformed;
    }

    /// <summary>An HTTP/2 extended CONNECT with :protocol websocket (RFC 8441), which Kestrel advertises.</summary>
    internal static bool IsWebSocketOverHttp2(HttpContext context) =>
        context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true } extended
        && string.Equals(extended.Protocol, "websocket", StringComparison.OrdinalIgnoreCase);

    private static string? ValidateHeaders(IHeaderDictionary headers, UnderscoreHeaders underscores)
    {
        List<string>? underscored = null;
        foreach (var header in HeaderEntries.Of(headers))
        {
            var name = header.Key;

            // Pseudo-header fields are Kestrel's to interpret and never forwarded; still, only as tokens.
            var token = name.Length > 1 && name[0] == ':' ? name.AsSpan(1) : name.AsSpan();
            if (!HttpTokens.IsToken(token))
            {
                return "a header name is not a token (RFC 9110 §5.1)";
            }

            if (underscores != UnderscoreHeaders.Allow && token.Contains('_'))
            {
                if (underscores == UnderscoreHeaders.Reject)
                {
                    return "a header name holds '_' (downstream.underscoresInHeaders: reject)";
                }

                (underscored ??= []).Add(name);
                continue;
            }

            var kind = name.Length switch
            {
                4 when string.Equals(name, HeaderNames.Host, StringComparison.OrdinalIgnoreCase) => FramedHeader.Host,
                14 when string.Equals(name, HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase) => FramedHeader.ContentLength,
                17 when string.Equals(name, HeaderNames.TransferEncoding, StringComparison.OrdinalIgnoreCase) => FramedHeader.TransferEncoding,
                _ => FramedHeader.None,
            };
            if (kind == FramedHeader.TransferEncoding && (header.Value.Count != 1 || !string.Equals(header.Value[0]?.Trim(), "chunked", StringComparison.OrdinalIgnoreCase)))
            {
                // RFC 9112 §6.1: chunked is the only coding a proxy must frame by; "identity, chunked", "gzip, chunked"
                // or a repeat are read differently by different servers.
                return "Transfer-Encoding other than exactly \"chunked\"";
            }

            foreach (var value in header.Value)
            {
                if (!IsFieldValue(value))
                {
                    return "a header value holds a control character (RFC 9110 §5.5)";
                }

                if (kind == FramedHeader.Host && value is not null && value.AsSpan().ContainsAnyExcept(s_authority))
                {
                    return "the Host is not a valid authority (RFC 9110 §7.2)";
                }

                if (kind == FramedHeader.ContentLength && (string.IsNullOrEmpty(value) || value.AsSpan().ContainsAnyExceptInRange('0', '9')))
                {
                    // 1*DIGIT only (RFC 9110 §8.6): "+5", "5 ", "0x5" and lists are read differently downstream. Kestrel
                    // hands over the number it parsed, not the bytes, so "+5" on the wire shows here as "5" (and is
                    // forwarded as "5"); Tether's own HTTP/1.1 parser (issue 15) refuses it there.
                    return "Content-Length is not a plain number";
                }
            }
        }

        if (underscored is not null)
        {
            // nginx's default: the header is not passed on (a CGI gateway that maps '_' to '-' would see another header).
            foreach (var name in underscored)
            {
                headers.Remove(name);
            }
        }

        return null;
    }

    private enum FramedHeader
    {
        None,
        Host,
        ContentLength,
        TransferEncoding,
    }

    private static string? ValidateTarget(HttpContext context, out UpstreamTarget target)
    {
        target = default;
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(raw))
        {
            // A server that gives no raw target (a test host): what it parsed, encoded.
            var request = context.Request;
            var path = (request.PathBase + request.Path).ToUriComponent();
            raw = (path.Length == 0 ? "/" : path) + request.QueryString.ToUriComponent();
        }

        if (raw[0] != '/')
        {
            if (raw == "*")
            {
                target = new UpstreamTarget(raw, 1, null);
                return null;
            }

            // Absolute-form (a client that takes Tether for a forward proxy): its path and query are the target.
            var scheme = raw.IndexOf("://", StringComparison.Ordinal);
            if (scheme <= 0)
            {
                return "the request target is not in origin-form (RFC 9112 §3.2)";
            }

            var authorityEnd = raw.AsSpan(scheme + 3).IndexOfAny('/', '?');
            raw = authorityEnd < 0 ? "/"
                : raw[scheme + 3 + authorityEnd] == '?' ? "/" + raw[(scheme + 3 + authorityEnd)..]
                : raw[(scheme + 3 + authorityEnd)..];
        }

        return Normalize(raw, out target);
    }

    /// <summary>Validates an origin-form target and returns it normalised, with the path routes are matched on.</summary>
    internal static string? Normalize(string raw, out UpstreamTarget target)
    {
        target = default;
        var queryStart = raw.IndexOf('?', StringComparison.Ordinal);
        var path = queryStart < 0 ? raw.AsSpan() : raw.AsSpan(0, queryStart);
        if (path.Length == 0 || path[0] != '/')
        {
            return "the request target is not in origin-form (RFC 9112 §3.2)";
        }

        if (path.ContainsAnyExcept(s_pathChars) || (queryStart >= 0 && raw.AsSpan(queryStart + 1).ContainsAnyExcept(s_queryChars)))
        {
            return "the request target holds a space, a control or non-ASCII byte, or a '#'";
        }

        // Nothing to decode and no dot segment: forwarded and matched exactly as sent (no allocation).
        if (!path.Contains('%') && !path.Contains("/.", StringComparison.Ordinal) && !path.Contains("\\.", StringComparison.Ordinal))
        {
            target = new UpstreamTarget(raw, path.Length, null);
            return null;
        }

        if (NormalizePath(path, out var normalized) is { } error)
        {
            return error;
        }

        var forwarded = queryStart < 0 ? normalized : string.Concat(normalized, raw.AsSpan(queryStart));
        target = new UpstreamTarget(forwarded, normalized.Length, DecodeForRouting(normalized));
        return null;
    }

    // RFC 3986 §6.2.2.2 then §5.2.4: escapes of unreserved characters decoded (so "%2e%2e" is ".."), then "." and
    // ".." segments removed. A segment that only hides a dot segment behind a separator some backend honours
    // ("..%2F", "..\", "..;", as IIS, Tomcat and Jetty read them) is refused: no single normal form exists for it.
    private static string? NormalizePath(ReadOnlySpan<char> path, out string normalized)
    {
        normalized = "";
        var decoded = new StringBuilder(path.Length);
        for (var i = 0; i < path.Length; i++)
        {
            var c = path[i];
            if (c != '%')
            {
                decoded.Append(c);
                continue;
            }

            if (i + 2 >= path.Length || !char.IsAsciiHexDigit(path[i + 1]) || !char.IsAsciiHexDigit(path[i + 2]))
            {
                return "the request path has a '%' that does not start a percent-escape";
            }

            var b = (char)((HexValue(path[i + 1]) << 4) | HexValue(path[i + 2]));
            if (char.IsAsciiLetterOrDigit(b) || b is '-' or '.' or '_' or '~')
            {
                decoded.Append(b);
            }
            else
            {
                decoded.Append(path.Slice(i, 3));
            }

            i += 2;
        }

        var text = decoded.ToString();
        var segments = text[1..].Split('/');
        var output = new List<string>(segments.Length);
        for (var i = 0; i < segments.Length; i++)
        {
            var segment = segments[i];
            var last = i == segments.Length - 1;
            if (segment is "." or "..")
            {
                if (segment == ".." && output.Count > 0)
                {
                    output.RemoveAt(output.Count - 1);
                }

                if (last)
                {
                    output.Add("");
                }

                continue;
            }

            if (HidesDotSegment(segment))
            {
                return "the request path hides a dot segment behind an encoded slash, a backslash or a ';'";
            }

            output.Add(segment);
        }

        normalized = "/" + string.Join('/', output);
        return null;
    }

    private static bool HidesDotSegment(string segment)
    {
        if (!segment.Contains('.', StringComparison.Ordinal))
        {
            return false;
        }

        var pieces = segment.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase)
            .Replace("%5C", "/", StringComparison.OrdinalIgnoreCase)
            .Replace('\\', '/')
            .Split('/');
        foreach (var piece in pieces)
        {
            var semicolon = piece.IndexOf(';', StringComparison.Ordinal);
            var name = semicolon < 0 ? piece : piece[..semicolon];
            if (name is "." or "..")
            {
                return true;
            }
        }

        return false;
    }

    // The path as routes see it: every escape decoded (as UTF-8) except %2F, which stays "%2F" so that an encoded
    // slash never becomes a segment boundary for matching that it is not for the backend.
    private static string DecodeForRouting(string path)
    {
        if (!path.Contains('%'))
        {
            return path;
        }

        var bytes = new List<byte>(path.Length);
        for (var i = 0; i < path.Length; i++)
        {
            if (path[i] == '%' && i + 2 < path.Length)
            {
                var b = (byte)((HexValue(path[i + 1]) << 4) | HexValue(path[i + 2]));
                if (b == (byte)'/')
                {
                    bytes.AddRange("%2F"u8);
                }
                else
                {
                    bytes.Add(b);
                }

                i += 2;
            }
            else
            {
                bytes.Add((byte)path[i]);
            }
        }

        return Encoding.UTF8.GetString([.. bytes]);
    }

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    private static bool IsFieldValue(string? value) => value is null || !value.AsSpan().ContainsAnyExcept(s_fieldValue);

    private static string FieldValueChars()
    {
        var chars = new StringBuilder("\t");
        for (var c = ' '; c <= '~'; c++)
        {
            chars.Append(c);
        }

        for (var c = '\u0080'; c <= '\u00ff'; c++)
        {
            chars.Append(c);
        }

        return chars.ToString();
    }

    private static string PrintableAsciiExcept(string excluded)
    {
        var chars = new StringBuilder();
        for (var c = '!'; c <= '~'; c++)
        {
            if (!excluded.Contains(c, StringComparison.Ordinal))
            {
                chars.Append(c);
            }
        }

        return chars.ToString();
    }

    /// <summary>Answers a refused request: HTTP/1.x gets 400 (or 405) and the connection closes; HTTP/2 gets
    /// the stream reset with PROTOCOL_ERROR (RFC 9113 §8.1.1), or 405.</summary>
    public static Task RejectAsync(HttpContext context, RequestRejection rejection, string reason)
    {
        var response = context.Response;
        if (rejection == RequestRejection.MethodNotAllowed)
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.ContentType = "text/plain; charset=utf-8";
            return response.WriteAsync("405 Method Not Allowed: " + reason + "\n");
        }

        if (!HttpProtocol.IsHttp10(context.Request.Protocol) && !HttpProtocol.IsHttp11(context.Request.Protocol)
            && context.Features.Get<IHttpResetFeature>() is { } reset)
        {
            const int protocolError = 0x1;
            reset.Reset(protocolError);
            return Task.CompletedTask;
        }

        response.StatusCode = StatusCodes.Status400BadRequest;
        response.Headers[HeaderNames.Connection] = "close";
        response.ContentType = "text/plain; charset=utf-8";
        return response.WriteAsync("400 Bad Request: " + reason + "\n");
    }
}
