using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using Tether.Upstream.Http1;

namespace Tether.Gateway.Forwarding;

/// <summary>Copies a backend's response head onto Kestrel's response, end-to-end headers only.</summary>
internal static class ResponseHeadCopier
{
    public static void Copy(Http1ResponseHead head, HttpResponse response)
    {
        response.StatusCode = head.StatusCode;
        var headers = response.Headers;
        for (var i = 0; i < head.HeaderCount; i++)
        {
            if (!head.IsEndToEnd(i))
            {
                continue;
            }

            var name = HeaderName(head.GetName(i));
            var value = head.GetValueString(i);
            if (headers.TryGetValue(name, out var existing) && existing.Count > 0)
            {
                headers[name] = Microsoft.Extensions.Primitives.StringValues.Concat(existing, value);
            }
            else
            {
                headers[name] = value;
            }
        }

        // Kestrel frames the body itself: a known length is passed on; otherwise HTTP/1.1 clients get chunked.
        if (head.ContentLength >= 0 && head.StatusCode is not (204 or 205 or 304) && head.StatusCode >= 200)
        {
            response.ContentLength = head.ContentLength;
        }
    }

    // Common names map to Kestrel's interned strings so that steady traffic allocates no name strings.
    private static string HeaderName(ReadOnlySpan<byte> name)
    {
        var known = name.Length switch
        {
            3 => Match(name, HeaderNames.Age, HeaderNames.Via),
            4 => Match(name, HeaderNames.Date, HeaderNames.ETag, HeaderNames.Vary, HeaderNames.Link),
            6 => Match(name, HeaderNames.Server, HeaderNames.Pragma),
            7 => Match(name, HeaderNames.Expires),
            8 => Match(name, HeaderNames.Location),
            10 => Match(name, HeaderNames.SetCookie),
            12 => Match(name, HeaderNames.ContentType, "X-Request-Id"),
            13 => Match(name, HeaderNames.CacheControl, HeaderNames.LastModified, HeaderNames.AcceptRanges, HeaderNames.ContentRange),
            16 => Match(name, HeaderNames.ContentEncoding, HeaderNames.ContentLanguage, HeaderNames.WWWAuthenticate),
            _ => null,
        };
        return known ?? Encoding.Latin1.GetString(name);
    }

    private static string? Match(ReadOnlySpan<byte> name, string a, string? b = null, string? c = null, string? d = null)
    {
        if (Ascii.EqualsIgnoreCase(name, a))
        {
            return a;
        }

        if (b is not null && Ascii.EqualsIgnoreCase(name, b))
        {
            return b;
        }

        if (c is not null && Ascii.EqualsIgnoreCase(name, c))
        {
            return c;
        }

        return d is not null && Ascii.EqualsIgnoreCase(name, d) ? d : null;
    }
}
