using System.Net;
using System.Text;
using Tether.Upstream.Http1;

namespace Tether.Client;

/// <summary>Turns a parsed HTTP/1.1 response head into an <see cref="HttpResponseMessage"/>.</summary>
internal static class ResponseHead
{
    // Names most responses carry, so that steady traffic allocates no name strings.
    private static readonly string[] s_knownNames =
    [
        "Date", "Server", "Content-Type", "Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding", "Cache-Control",
        "ETag", "Last-Modified", "Location", "Set-Cookie", "Vary", "Content-Encoding", "Expires", "Accept-Ranges", "Age",
        "Pragma", "Via", "Content-Language", "Content-Range", "Content-Disposition", "Allow", "Content-Location",
        "Strict-Transport-Security", "X-Request-Id", "WWW-Authenticate", "Retry-After", "Trailer",
    ];

    public static HttpResponseMessage Build(HttpRequestMessage request, Http1ResponseHead head, ResponseContent content)
    {
        var response = new HttpResponseMessage((HttpStatusCode)head.StatusCode)
        {
            RequestMessage = request,
            Version = head.MinorVersion == 0 ? HttpVersion.Version10 : HttpVersion.Version11,
            Content = content,
        };
        var headers = response.Headers;
        var contentHeaders = response.Content.Headers;
        for (var i = 0; i < head.HeaderCount; i++)
        {
            var name = Name(head.GetName(i));
            var value = head.GetValueString(i);
            if (IsContentHeader(name))
            {
                contentHeaders.TryAddWithoutValidation(name, value);
            }
            else
            {
                headers.TryAddWithoutValidation(name, value);
            }
        }

        return response;
    }

    private static bool IsContentHeader(string name) =>
        name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase)
        || string.Equals(name, "Expires", StringComparison.OrdinalIgnoreCase)
        || string.Equals(name, "Last-Modified", StringComparison.OrdinalIgnoreCase)
        || string.Equals(name, "Allow", StringComparison.OrdinalIgnoreCase);

    private static string Name(ReadOnlySpan<byte> name)
    {
        foreach (var known in s_knownNames)
        {
            if (known.Length == name.Length && Ascii.EqualsIgnoreCase(name, known))
            {
                return known;
            }
        }

        return Encoding.Latin1.GetString(name);
    }
}
