using System.Buffers.Text;
using System.Net;
using System.Text;
using Tether.Upstream.Http1;

namespace Tether.Client;

/// <summary>Turns a parsed HTTP/1.1 response head into an <see cref="HttpResponseMessage"/>.</summary>
internal static class ResponseHead
{
    // Names most responses carry, so that steady traffic allocates no name strings; each with whether it belongs in
    // the content's headers, looked up by length (one or two comparisons a header instead of a scan of them all).
    private static readonly KnownName[][] s_knownByLength = ByLength(
    [
        "Date", "Server", "Content-Type", "Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding", "Cache-Control",
        "ETag", "Last-Modified", "Location", "Set-Cookie", "Vary", "Content-Encoding", "Expires", "Accept-Ranges", "Age",
        "Pragma", "Via", "Content-Language", "Content-Range", "Content-Disposition", "Allow", "Content-Location",
        "Strict-Transport-Security", "X-Request-Id", "WWW-Authenticate", "Retry-After", "Trailer", "Content-MD5",
    ]);

    public static HttpResponseMessage Build(HttpRequestMessage request, Http1ResponseHead head, HttpContent content)
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
            var known = Find(head.GetName(i));
            if (known is { IsContentLength: true } && Utf8Parser.TryParse(head.GetValue(i), out long length, out var consumed) && consumed == head.GetValue(i).Length)
            {
                // Typed: HttpClient (LoadIntoBufferAsync) and callers read it as a number, and a raw value would be
                // parsed again on that first read. The head parser has already refused a malformed or conflicting one.
                contentHeaders.ContentLength = length;
                continue;
            }

            var name = known?.Name ?? Encoding.Latin1.GetString(head.GetName(i));
            var value = head.GetValueString(i);
            if (known?.IsContent ?? IsContentHeader(name))
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

    private static KnownName? Find(ReadOnlySpan<byte> name)
    {
        if (name.Length < s_knownByLength.Length)
        {
            foreach (var known in s_knownByLength[name.Length])
            {
                if (Ascii.EqualsIgnoreCase(name, known.Name))
                {
                    return known;
                }
            }
        }

        return null;
    }

    private static KnownName[][] ByLength(string[] names)
    {
        var table = new KnownName[names.Max(n => n.Length) + 1][];
        for (var length = 0; length < table.Length; length++)
        {
            table[length] = [.. names.Where(n => n.Length == length).Select(n => new KnownName(n, IsContentHeader(n), n == "Content-Length"))];
        }

        return table;
    }

    private sealed record KnownName(string Name, bool IsContent, bool IsContentLength);
}
