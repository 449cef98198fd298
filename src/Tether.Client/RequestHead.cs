using System.Buffers;
using System.Net.Http.Headers;
using System.Text;
using Tether.Upstream.Http1;

namespace Tether.Client;

/// <summary>Serializes an <see cref="HttpRequestMessage"/> as an HTTP/1.1 request head.</summary>
internal static class RequestHead
{
    /// <summary>What <see cref="Write"/> is told about the body: none, or chunked (its length unknown).</summary>
    public const long NoBody = -2;
    public const long Chunked = -1;

    // A CR or LF in a value would end the header line and let the value inject headers (request splitting).
    private static readonly SearchValues<char> s_forbiddenInValues = SearchValues.Create("\r\n\0");

    /// <summary>How the request's body is framed: its length, <see cref="Chunked"/> or <see cref="NoBody"/>.</summary>
    public static long BodyLength(HttpRequestMessage request)
    {
        if (request.Content is not { } content)
        {
            // As SocketsHttpHandler: a POST or PUT without content still says it has none (some servers answer 411).
            var method = request.Method;
            return method == HttpMethod.Post || method == HttpMethod.Put || method == HttpMethod.Patch ? 0 : NoBody;
        }

        return content.Headers.ContentLength ?? Chunked;
    }

    /// <exception cref="HttpRequestException">A header value holds CR, LF or NUL.</exception>
    public static void Write(IBufferWriter<byte> output, HttpRequestMessage request, string defaultHost, long bodyLength, bool close)
    {
        var uri = request.RequestUri!;
        Http1RequestWriter.WriteRequestLine(output, request.Method.Method, uri.PathAndQuery);
        var headers = request.Headers;
        var host = headers.Host;
        WriteChecked(output, "Host", host ?? defaultHost);
        WriteHeaders(output, headers.NonValidated, skipHost: true);
        if (request.Content is { } content)
        {
            WriteHeaders(output, content.Headers.NonValidated, skipHost: false);
        }

        if (close)
        {
            output.Write("Connection: close\r\n"u8);
        }

        if (bodyLength >= 0)
        {
            Http1RequestWriter.WriteContentLength(output, bodyLength);
        }
        else if (bodyLength == Chunked)
        {
            output.Write("Transfer-Encoding: chunked\r\n"u8);
        }

        Http1RequestWriter.WriteEndOfHead(output);
    }

    private static void WriteHeaders(IBufferWriter<byte> output, HttpHeadersNonValidated headers, bool skipHost)
    {
        foreach (var header in headers)
        {
            var name = header.Key;

            // Framing and hop-by-hop fields are this handler's to write (Connection: close is honoured through "close").
            if (HttpTokens.IsHopByHop(name) || string.Equals(name, "Content-Length", StringComparison.OrdinalIgnoreCase)
                || (skipHost && string.Equals(name, "Host", StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            var values = header.Value;
            if (values.Count == 1)
            {
                foreach (var value in values)
                {
                    WriteChecked(output, name, value);
                }

                continue;
            }

            // Several values go on one line (RFC 9110 §5.3), Cookie's joined by "; " (RFC 6265 §5.4).
            var separator = string.Equals(name, "Cookie", StringComparison.OrdinalIgnoreCase) ? "; " : ", ";
            var builder = new StringBuilder();
            foreach (var value in values)
            {
                if (builder.Length > 0)
                {
                    builder.Append(separator);
                }

                builder.Append(value);
            }

            WriteChecked(output, name, builder.ToString());
        }
    }

    private static void WriteChecked(IBufferWriter<byte> output, string name, string value)
    {
        if (value.AsSpan().ContainsAny(s_forbiddenInValues))
        {
            throw new HttpRequestException($"The value of request header '{name}' contains a CR, LF or NUL character; remove it.");
        }

        Http1RequestWriter.WriteHeader(output, name, value);
    }
}
