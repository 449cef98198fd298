using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Tether.Upstream.Http1;

namespace Tether.Gateway.Forwarding;

/// <summary>
/// Response trailers on their way to the client. An HTTP/2 client takes them as a trailing HEADERS frame. An
/// HTTP/1.1 client would get them in its chunked body if it said "TE: trailers" and the fields were named before
/// the body (the backend's own Trailer header, or for gRPC grpc-status and grpc-message); Kestrel 10's HTTP/1.1
/// responses do not support trailers at all (SupportsTrailers() is false), so today they are dropped there, and
/// this takes effect with Tether's own HTTP/1.1 front path (issue 15).
/// </summary>
internal static class ResponseTrailers
{
    private static readonly string[] s_grpcTrailers = ["grpc-status", "grpc-message", "grpc-status-details-bin"];

    /// <summary>For an HTTP/1.1 backend response: whether its chunked trailers go on to this client (and names
    /// them to an HTTP/1.1 client, before any body byte).</summary>
    public static bool Declare(HttpContext context, Http1ResponseHead head)
    {
        if (head.Framing != BodyFraming.Chunked || !context.Response.SupportsTrailers())
        {
            return false;
        }

        if (!IsHttp1(context.Request.Protocol))
        {
            return true;
        }

        if (!ClientAccepts(context.Request))
        {
            return false;
        }

        var declared = false;
        for (var i = 0; i < head.HeaderCount; i++)
        {
            if (System.Text.Ascii.EqualsIgnoreCase(head.GetName(i), "Trailer"u8))
            {
                foreach (var name in head.GetValueString(i).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                {
                    if (HttpTokens.IsToken(name))
                    {
                        context.Response.DeclareTrailer(name);
                        declared = true;
                    }
                }
            }
        }

        return declared;
    }

    /// <summary>For an HTTP/2 backend response: whether its trailers go on to this client (an HTTP/1.1 client is told
    /// the names the backend's Trailer header announces, and for gRPC the grpc-* ones).</summary>
    public static bool Declare(HttpContext context, bool grpc, System.Net.Http.HttpResponseMessage response)
    {
        if (!context.Response.SupportsTrailers())
        {
            return false;
        }

        if (!IsHttp1(context.Request.Protocol))
        {
            return true;
        }

        if (!ClientAccepts(context.Request))
        {
            return false;
        }

        var declared = false;
        if (response.Headers.NonValidated.TryGetValues("Trailer", out var announced))
        {
            foreach (var value in announced)
            {
                foreach (var name in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                {
                    if (HttpTokens.IsToken(name))
                    {
                        context.Response.DeclareTrailer(name);
                        declared = true;
                    }
                }
            }
        }

        if (grpc)
        {
            foreach (var name in s_grpcTrailers)
            {
                context.Response.DeclareTrailer(name);
            }

            declared = true;
        }

        return declared;
    }

    public static void Append(HttpResponse response, IEnumerable<KeyValuePair<string, string>> trailers)
    {
        var http1 = IsHttp1(response.HttpContext.Request.Protocol);
        var declared = http1 ? response.Headers["Trailer"] : default;
        foreach (var (name, value) in trailers)
        {
            if (!http1 || IsDeclared(declared, name))
            {
                response.AppendTrailer(name, value);
            }
        }
    }

    public static void Append(HttpResponse response, System.Net.Http.Headers.HttpResponseHeaders trailers)
    {
        var http1 = IsHttp1(response.HttpContext.Request.Protocol);
        var declared = http1 ? response.Headers["Trailer"] : default;
        foreach (var (name, values) in trailers.NonValidated)
        {
            if (!HttpTokens.IsHopByHop(name) && (!http1 || IsDeclared(declared, name)))
            {
                response.AppendTrailer(name, values.Count == 1 ? new StringValues(values.ToString()) : new StringValues([.. values]));
            }
        }
    }

    private static bool IsDeclared(StringValues declared, string name)
    {
        foreach (var value in declared)
        {
            foreach (var part in (value ?? "").Split(',', StringSplitOptions.TrimEntries))
            {
                if (part.Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool ClientAccepts(HttpRequest request)
    {
        foreach (var value in request.Headers.TE)
        {
            if (value is not null && value.Contains("trailers", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsHttp1(string protocol) => HttpProtocol.IsHttp11(protocol) || HttpProtocol.IsHttp10(protocol);
}
