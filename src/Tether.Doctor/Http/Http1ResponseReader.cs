using System.Globalization;
using System.Text;

namespace Tether.Doctor.Http;

/// <summary>
/// Reads one HTTP/1.x response from a <see cref="ReceiveBuffer"/>: status line, headers, and a body framed by
/// Content-Length, chunked coding, or the end of the connection; no body for HEAD, 1xx, 204 and 304.
/// </summary>
internal static class Http1ResponseReader
{
    private static ReadOnlySpan<byte> HeaderEnd => "\r\n\r\n"u8;

    private static ReadOnlySpan<byte> LineEnd => "\r\n"u8;

    public static async Task<ProbeResponse> ReadAsync(
        ReceiveBuffer buffer, bool isHead, long sentTimestamp, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        long? firstByteTimestamp = buffer.Count > 0 ? buffer.LastReadTimestamp : null;
        while (true)
        {
            var headerLength = buffer.Data.IndexOf(HeaderEnd);
            if (headerLength >= 0)
            {
                var head = Encoding.Latin1.GetString(buffer.Data[..headerLength]);
                buffer.Consume(headerLength + HeaderEnd.Length);
                var (version, status, headers) = ParseHead(head);
                if (status is >= 100 and < 200)
                {
                    // An interim response (100 Continue, 103 Early Hints): the real one follows.
                    continue;
                }

                var response = new ProbeResponse { Version = version, StatusCode = status, Headers = headers };
                var (bodyLength, closeDelimited) = await ReadBodyAsync(buffer, response, isHead, cancellationToken).ConfigureAwait(false);
                firstByteTimestamp ??= buffer.LastReadTimestamp;
                return response with
                {
                    BodyLength = bodyLength,
                    CloseDelimited = closeDelimited,
                    TimeToFirstByte = timeProvider.GetElapsedTime(sentTimestamp, firstByteTimestamp.Value),
                    Total = timeProvider.GetElapsedTime(sentTimestamp),
                };
            }

            var hadBytes = buffer.Count > 0;
            if (await buffer.FillAsync(cancellationToken).ConfigureAwait(false) == 0)
            {
                throw new ConnectionClosedException(hadBytes
                    ? "the server closed the connection in the middle of the response headers"
                    : buffer.PeerReset
                        ? "the server reset the connection instead of responding"
                        : "the server closed the connection without responding");
            }

            firstByteTimestamp ??= buffer.LastReadTimestamp;
        }
    }

    private static (string Version, int Status, List<KeyValuePair<string, string>> Headers) ParseHead(string head)
    {
        var lines = head.Split("\r\n");
        var statusParts = lines[0].Split(' ', 3);
        if (statusParts.Length < 2 || !statusParts[0].StartsWith("HTTP/", StringComparison.Ordinal)
            || !int.TryParse(statusParts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var status))
        {
            throw new InvalidDataException($"not an HTTP/1.x status line: '{lines[0]}'");
        }

        var headers = new List<KeyValuePair<string, string>>(lines.Length - 1);
        for (var i = 1; i < lines.Length; i++)
        {
            var colon = lines[i].IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                headers.Add(new(lines[i][..colon].Trim(), lines[i][(colon + 1)..].Trim()));
            }
        }

        return (statusParts[0], status, headers);
    }

    private static async Task<(long Length, bool CloseDelimited)> ReadBodyAsync(
        ReceiveBuffer buffer, ProbeResponse response, bool isHead, CancellationToken cancellationToken)
    {
        if (isHead || response.StatusCode is 204 or 304)
        {
            return (0, false);
        }

        var transferEncoding = response.Header("Transfer-Encoding");
        if (transferEncoding is not null && transferEncoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            return (await ReadChunkedAsync(buffer, cancellationToken).ConfigureAwait(false), false);
        }

        if (response.Header("Content-Length") is { } lengthText)
        {
            if (!long.TryParse(lengthText, NumberStyles.None, CultureInfo.InvariantCulture, out var length))
            {
                throw new InvalidDataException($"invalid Content-Length '{lengthText}'");
            }

            await SkipAsync(buffer, length, cancellationToken).ConfigureAwait(false);
            return (length, false);
        }

        long total = 0;
        while (true)
        {
            total += buffer.Count;
            buffer.Consume(buffer.Count);
            if (await buffer.FillAsync(cancellationToken).ConfigureAwait(false) == 0)
            {
                return (total, true);
            }
        }
    }

    private static async Task<long> ReadChunkedAsync(ReceiveBuffer buffer, CancellationToken cancellationToken)
    {
        long total = 0;
        while (true)
        {
            var line = await ReadLineAsync(buffer, cancellationToken).ConfigureAwait(false);
            var sizeText = line.Split(';', 2)[0].Trim();
            if (!long.TryParse(sizeText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size) || size < 0)
            {
                throw new InvalidDataException($"invalid chunk size line '{line}'");
            }

            if (size == 0)
            {
                // Trailer fields end with an empty line.
                while ((await ReadLineAsync(buffer, cancellationToken).ConfigureAwait(false)).Length > 0)
                {
                }

                return total;
            }

            await SkipAsync(buffer, size, cancellationToken).ConfigureAwait(false);
            total += size;
            if ((await ReadLineAsync(buffer, cancellationToken).ConfigureAwait(false)).Length > 0)
            {
                throw new InvalidDataException("a chunk is not followed by CRLF");
            }
        }
    }

    private static async Task<string> ReadLineAsync(ReceiveBuffer buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            var end = buffer.Data.IndexOf(LineEnd);
            if (end >= 0)
            {
                var line = Encoding.Latin1.GetString(buffer.Data[..end]);
                buffer.Consume(end + LineEnd.Length);
                return line;
            }

            await FillOrThrowAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task SkipAsync(ReceiveBuffer buffer, long count, CancellationToken cancellationToken)
    {
        while (count > 0)
        {
            if (buffer.Count == 0)
            {
                await FillOrThrowAsync(buffer, cancellationToken).ConfigureAwait(false);
            }

            var take = (int)Math.Min(count, buffer.Count);
            buffer.Consume(take);
            count -= take;
        }
    }

    private static async Task FillOrThrowAsync(ReceiveBuffer buffer, CancellationToken cancellationToken)
    {
        if (await buffer.FillAsync(cancellationToken).ConfigureAwait(false) == 0)
        {
            throw new ConnectionClosedException("the server closed the connection in the middle of the response body");
        }
    }
}
