using System.Net.Sockets;
using System.Text;

namespace Tether.FunctionalTests.Infrastructure;

/// <summary>A body as it arrived, and whether its framing said it was complete before the peer went away.</summary>
internal readonly record struct BodyRead(byte[] Bytes, bool Complete, IReadOnlyList<string>? Trailers = null)
{
    /// <summary>The trailer fields after a chunked body's last chunk ("Name: value" lines), none for other framings.</summary>
    public IReadOnlyList<string> TrailerLines => Trailers ?? [];
}

/// <summary>
/// Buffered HTTP/1.1 reading off a raw socket, for the tests' own peers (origin and client). Lenient: it is
/// here to see what Tether sent, not to judge it, except where a test asks (a truncated body is reported as
/// incomplete, not thrown).
/// </summary>
internal sealed class SocketReader(Socket socket)
{
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    /// <summary>The peer ended the stream (FIN) or reset it.</summary>
    public bool PeerClosed { get; private set; }

    /// <summary>The peer reset the connection (RST) rather than closing it.</summary>
    public bool PeerReset { get; private set; }

    public int Buffered => _end - _start;

    /// <summary>Waits until at least one byte is buffered. False if the peer closed first.</summary>
    public async ValueTask<bool> WaitForDataAsync(CancellationToken cancellationToken)
    {
        while (_end == _start)
        {
            if (await FillAsync(cancellationToken) == 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// A message head through its empty line, as Latin-1 text. Null if the peer closed before sending a byte;
    /// <see cref="EndOfStreamException"/> if it closed in the middle.
    /// </summary>
    public async ValueTask<string?> ReadHeadAsync(CancellationToken cancellationToken)
    {
        var searched = 0;
        while (true)
        {
            var span = _buffer.AsSpan(_start, _end - _start);
            var end = span[Math.Max(0, searched - 3)..].IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                end += Math.Max(0, searched - 3);
                var head = Encoding.Latin1.GetString(span[..(end + 4)]);
                _start += end + 4;
                return head;
            }

            searched = span.Length;
            if (await FillAsync(cancellationToken) == 0)
            {
                if (_end == _start)
                {
                    return null;
                }

                throw new EndOfStreamException($"peer closed in the middle of a head: '{Encoding.Latin1.GetString(_buffer, _start, Math.Min(200, _end - _start))}'");
            }
        }
    }

    /// <summary>Exactly <paramref name="length"/> bytes, or fewer (Complete = false) if the peer closed first.</summary>
    public async ValueTask<BodyRead> ReadExactAsync(long length, CancellationToken cancellationToken)
    {
        using var body = new MemoryStream();
        await CopyExactAsync(body, length, cancellationToken);
        return new BodyRead(body.ToArray(), body.Length == length);
    }

    /// <summary>A chunked body (extensions skipped, trailer lines kept), or what arrived of it before the peer closed.</summary>
    public async ValueTask<BodyRead> ReadChunkedAsync(CancellationToken cancellationToken)
    {
        using var body = new MemoryStream();
        while (true)
        {
            var line = await ReadLineAsync(cancellationToken);
            if (line is null)
            {
                return new BodyRead(body.ToArray(), false);
            }

            var semicolon = line.IndexOf(';', StringComparison.Ordinal);
            var sizeText = (semicolon >= 0 ? line[..semicolon] : line).Trim();
            var size = Convert.ToInt64(sizeText, 16);
            if (size == 0)
            {
                var trailers = new List<string>();
                while (true)
                {
                    var trailer = await ReadLineAsync(cancellationToken);
                    if (trailer is null)
                    {
                        return new BodyRead(body.ToArray(), false);
                    }

                    if (trailer.Length == 0)
                    {
                        return new BodyRead(body.ToArray(), true, trailers);
                    }

                    trailers.Add(trailer);
                }
            }

            var before = body.Length;
            await CopyExactAsync(body, size, cancellationToken);
            if (body.Length - before != size || await ReadLineAsync(cancellationToken) is not "")
            {
                return new BodyRead(body.ToArray(), false);
            }
        }
    }

    /// <summary>Everything until the peer closes (a close-delimited body).</summary>
    public async ValueTask<byte[]> ReadToEndAsync(CancellationToken cancellationToken)
    {
        using var body = new MemoryStream();
        while (true)
        {
            if (_end > _start)
            {
                body.Write(_buffer, _start, _end - _start);
                _start = _end;
            }

            if (await FillAsync(cancellationToken) == 0)
            {
                return body.ToArray();
            }
        }
    }

    /// <summary>Reads and discards until the peer closes. Returns how many bytes were discarded.</summary>
    public async ValueTask<long> DrainToEndAsync(CancellationToken cancellationToken)
    {
        long discarded = _end - _start;
        _start = _end;
        while (true)
        {
            var n = await FillAsync(cancellationToken);
            if (n == 0)
            {
                return discarded;
            }

            discarded += n;
            _start = _end;
        }
    }

    private async ValueTask<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var span = _buffer.AsSpan(_start, _end - _start);
            var end = span.IndexOf("\r\n"u8);
            if (end >= 0)
            {
                var line = Encoding.Latin1.GetString(span[..end]);
                _start += end + 2;
                return line;
            }

            if (await FillAsync(cancellationToken) == 0)
            {
                return null;
            }
        }
    }

    private async ValueTask CopyExactAsync(Stream destination, long length, CancellationToken cancellationToken)
    {
        var remaining = length;
        while (remaining > 0)
        {
            if (_end == _start && await FillAsync(cancellationToken) == 0)
            {
                return;
            }

            var take = (int)Math.Min(remaining, _end - _start);
            destination.Write(_buffer, _start, take);
            _start += take;
            remaining -= take;
        }
    }

    // Reads once from the socket into the buffer. 0 = the peer closed (FIN or RST).
    private async ValueTask<int> FillAsync(CancellationToken cancellationToken)
    {
        if (PeerClosed)
        {
            return 0;
        }

        if (_start == _end)
        {
            _start = _end = 0;
        }
        else if (_end == _buffer.Length)
        {
            var live = _end - _start;
            if (live > _buffer.Length / 2)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            Buffer.BlockCopy(_buffer, _start, _buffer, 0, live);
            _start = 0;
            _end = live;
        }

        int n;
        try
        {
            n = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown)
        {
            PeerReset = true;
            n = 0;
        }

        if (n == 0)
        {
            PeerClosed = true;
        }

        _end += n;
        return n;
    }
}

/// <summary>A parsed start line and header list, in the order received, duplicates kept.</summary>
internal sealed class HttpHead
{
    private HttpHead(string text, string startLine, List<KeyValuePair<string, string>> headers)
    {
        Text = text;
        StartLine = startLine;
        Headers = headers;
    }

    /// <summary>The head exactly as received.</summary>
    public string Text { get; }

    public string StartLine { get; }

    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; }

    public static HttpHead Parse(string text)
    {
        var lines = text.Split("\r\n");
        var headers = new List<KeyValuePair<string, string>>();
        for (var i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0)
            {
                continue;
            }

            var colon = lines[i].IndexOf(':', StringComparison.Ordinal);
            headers.Add(new(lines[i][..colon], lines[i][(colon + 1)..].Trim()));
        }

        return new HttpHead(text, lines[0], headers);
    }

    public bool Has(string name) => Get(name) is not null;

    public string? Get(string name)
    {
        foreach (var (key, value) in Headers)
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }

        return null;
    }

    public IReadOnlyList<string> GetAll(string name)
    {
        var values = new List<string>();
        foreach (var (key, value) in Headers)
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                values.Add(value);
            }
        }

        return values;
    }

    /// <summary>Whether a comma-separated header (Connection, Transfer-Encoding) holds <paramref name="token"/>.</summary>
    public bool HasToken(string name, string token)
    {
        foreach (var value in GetAll(name))
        {
            foreach (var part in value.Split(','))
            {
                if (string.Equals(part.Trim(), token, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }
}
