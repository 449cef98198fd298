using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace Tether.Gateway.Http1;

/// <summary>
/// The response side of one <see cref="Http1ServerConnection"/>: writes the head when the response starts (the
/// first write, flush or completion), then the body framed by Content-Length, chunked (HTTP/1.1, length
/// unknown) or the connection's close (HTTP/1.0, length unknown). Holds a pooled buffer only while a response is
/// under way. One per connection, reused for every response; not thread-safe (one writer at a time, as PipeWriter).
/// </summary>
internal sealed class Http1ResponseWriter(Http1ServerConnection connection) : PipeWriter
{
    // Room kept before the data of a chunked response for its size line ("ffffffff\r\n").
    private const int ChunkPrefix = 10;
    private const int InitialBuffer = 16 * 1024;

    private static readonly byte[] _lastChunk = "0\r\n\r\n"u8.ToArray();

    // Room always kept after the body bytes: a chunk's CRLF and the last chunk.
    private const int Reserve = 2 + 5;

    // Invariant: _buffer is null between responses; while one is under way [0, _headLength) is the head not yet
    // sent, [_dataStart, _position) the body bytes not yet sent.
    private byte[]? _buffer;
    private int _headLength;
    private int _dataStart;
    private int _position;
    private bool _chunked;
    private bool _noBody;
    private long _declared;
    private long _written;
    private bool _failed;

    public bool HasStarted { get; private set; }

    /// <summary>The connection cannot carry another request after this response (framing cut short, HTTP/1.0, error).</summary>
    public bool MustClose { get; private set; }

    public long BodyBytes => _written;

    public void Reset()
    {
        HasStarted = false;
        MustClose = false;
        _chunked = _noBody = _failed = false;
        _declared = -1;
        _written = 0;
        _headLength = _dataStart = _position = 0;
    }

    public override void Advance(int bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        _written += bytes;
        if (_declared >= 0 && _written > _declared)
        {
            // More than the Content-Length the head announced: the connection's framing is lost.
            MustClose = true;
            connection.Abort();
            throw new InvalidOperationException($"response body longer than its Content-Length ({_declared})");
        }

        _position += _noBody ? 0 : bytes;
    }

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        Start();
        Ensure(Math.Max(sizeHint, 1));
        return _noBody ? _buffer.AsMemory(_dataStart) : _buffer.AsMemory(_position, _buffer!.Length - _position - Reserve);
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void CancelPendingFlush()
    {
    }

    public override void Complete(Exception? exception = null) => CompleteAsync(exception).AsTask().GetAwaiter().GetResult();

    public override async ValueTask CompleteAsync(Exception? exception = null)
    {
        if (_buffer is null && HasStarted)
        {
            return;
        }

        if (exception is not null)
        {
            MustClose = true;
            Release();
            return;
        }

        Start();
        await SendAsync(last: true).ConfigureAwait(false);
        if (_declared >= 0 && _written < _declared && !_noBody)
        {
            // Fewer bytes than announced: the client must see the connection close to know the response is cut.
            MustClose = true;
        }

        Release();
    }

    public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        Start();
        await SendAsync(last: false).ConfigureAwait(false);
        return new FlushResult(isCanceled: false, isCompleted: _failed);
    }

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        var span = source.Span;
        while (!span.IsEmpty)
        {
            var memory = GetSpan(Math.Min(span.Length, InitialBuffer));
            var n = Math.Min(memory.Length, span.Length);
            span[..n].CopyTo(memory);
            Advance(n);
            span = span[n..];
        }

        return FlushAsync(cancellationToken);
    }

    /// <summary>Serialises the head into the buffer (once): status line, the response headers, framing, Date.</summary>
    public void Start()
    {
        if (HasStarted)
        {
            return;
        }

        HasStarted = true;
        connection.FireOnStarting();
        var status = connection.StatusCode;
        var headers = connection.ResponseHeaders;
        var request = connection.Head;
        _noBody = request.Method == HttpMethods.Head || status is 204 or 304 || status < 200;
        _declared = headers.ContentLength ?? -1;
        var upgrade = status == StatusCodes.Status101SwitchingProtocols && connection.IsUpgraded;
        var closes = !request.KeepAlive || connection.ClosingAfterResponse;
        if (headers.Connection is { Count: > 0 } value && value.ToString().Contains("close", StringComparison.OrdinalIgnoreCase))
        {
            closes = true;
        }

        if (_declared < 0 && !_noBody)
        {
            if (request.VersionMinor == 1)
            {
                _chunked = true;
            }
            else
            {
                closes = true;
            }
        }

        MustClose = closes || upgrade;
        _buffer = ArrayPool<byte>.Shared.Rent(InitialBuffer);
        var writer = new HeadWriter(this);
        writer.Write("HTTP/1.1 "u8);
        writer.WriteNumber(status);
        writer.Write(" "u8);
        writer.WriteLatin1(connection.ReasonPhrase ?? ReasonPhrases.GetReasonPhrase(status));
        writer.Write("\r\n"u8);
        var hasDate = false;
        foreach (var header in Forwarding.HeaderEntries.Of(headers))
        {
            if (IsFramingOrConnection(header.Key) || (closes && header.Key.Equals("Keep-Alive", StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            hasDate |= header.Key.Equals("Date", StringComparison.OrdinalIgnoreCase);
            foreach (var v in header.Value)
            {
                // A value with CR or LF would split the response: never written.
                if (v is null || v.AsSpan().ContainsAny('\r', '\n'))
                {
                    continue;
                }

                writer.WriteLatin1(header.Key);
                writer.Write(": "u8);
                writer.WriteLatin1(v);
                writer.Write("\r\n"u8);
            }
        }

        if (!hasDate)
        {
            writer.Write("Date: "u8);
            writer.WriteLatin1(DateCache.Now);
            writer.Write("\r\n"u8);
        }

        if (_declared >= 0 && (status >= 200 && status is not 204 && (status != 304 || _declared > 0)))
        {
            writer.Write("Content-Length: "u8);
            writer.WriteNumber(_declared);
            writer.Write("\r\n"u8);
        }
        else if (_chunked)
        {
            writer.Write("Transfer-Encoding: chunked\r\n"u8);
        }

        if (upgrade)
        {
            // The connection becomes the tunnel: it neither closes nor carries another request (MustClose below).
            writer.Write("Connection: Upgrade\r\n"u8);
        }
        else if (closes)
        {
            writer.Write("Connection: close\r\n"u8);
        }
        else if (request.VersionMinor == 0)
        {
            writer.Write("Connection: keep-alive\r\n"u8);
        }

        writer.Write("\r\n"u8);
        _headLength = writer.Length;
        _dataStart = _chunked ? _headLength + ChunkPrefix : _headLength;
        _position = _dataStart;
    }

    private static bool IsFramingOrConnection(string name) =>
        name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Connection", StringComparison.OrdinalIgnoreCase);

    // Room for at least `size` more body bytes (plus a chunk's CRLF); grows the buffer, keeping what it holds.
    private void Ensure(int size)
    {
        if (_noBody || _buffer!.Length - _position - Reserve >= size)
        {
            return;
        }

        var bigger = ArrayPool<byte>.Shared.Rent(_position + size + Reserve);
        _buffer.AsSpan(0, _position).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }

    private async ValueTask SendAsync(bool last)
    {
        if (_buffer is null || _failed)
        {
            return;
        }

        var start = 0;
        var end = _position;
        var data = _position - _dataStart;
        if (_chunked)
        {
            // The chunk's size line goes right before its data; the head (if not sent yet) is moved up to it.
            var prefix = data > 0 ? ChunkSizeLength(data) + 2 : 0;
            var gap = ChunkPrefix - prefix;
            if (data > 0)
            {
                var line = _buffer.AsSpan(_dataStart - prefix, prefix);
                data.TryFormat(line, out var written, "x", null);
                line[written] = (byte)'\r';
                line[written + 1] = (byte)'\n';
                _buffer[end++] = (byte)'\r';
                _buffer[end++] = (byte)'\n';
            }

            if (_headLength > 0)
            {
                _buffer.AsSpan(0, _headLength).CopyTo(_buffer.AsSpan(gap));
            }

            start = gap;
            if (last)
            {
                _lastChunk.CopyTo(_buffer.AsSpan(end));
                end += _lastChunk.Length;
            }
        }

        if (end > start)
        {
            try
            {
                await connection.SendAsync(_buffer.AsMemory(start, end - start)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException)
            {
                _failed = true;
                MustClose = true;
                connection.Abort();
            }
        }

        _headLength = 0;
        _dataStart = _chunked ? ChunkPrefix : 0;
        _position = _dataStart;
    }

    private static int ChunkSizeLength(int size)
    {
        var digits = 1;
        while ((size >>= 4) != 0)
        {
            digits++;
        }

        return digits;
    }

    private void Release()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }
    }

    /// <summary>Appends head bytes at the start of the buffer, growing it for a very large head.</summary>
    private ref struct HeadWriter(Http1ResponseWriter owner)
    {
        public int Length;

        public void Write(ReadOnlySpan<byte> bytes)
        {
            Grow(bytes.Length);
            bytes.CopyTo(owner._buffer.AsSpan(Length));
            Length += bytes.Length;
        }

        public void WriteLatin1(string text)
        {
            Grow(text.Length);
            Length += Encoding.Latin1.GetBytes(text, owner._buffer.AsSpan(Length));
        }

        public void WriteNumber(long value)
        {
            Grow(20);
            value.TryFormat(owner._buffer.AsSpan(Length), out var written, default, System.Globalization.CultureInfo.InvariantCulture);
            Length += written;
        }

        private readonly void Grow(int more)
        {
            // Room for the head, the chunk prefix and a first body block.
            if (Length + more + ChunkPrefix + 64 <= owner._buffer!.Length)
            {
                return;
            }

            var bigger = ArrayPool<byte>.Shared.Rent((Length + more + ChunkPrefix + 64) * 2);
            owner._buffer.AsSpan(0, Length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(owner._buffer);
            owner._buffer = bigger;
        }
    }

    /// <summary>The Date header's value, formatted once a second.</summary>
    private static class DateCache
    {
        private static string _value = "";
        private static long _second = -1;

        public static string Now
        {
            get
            {
                var now = DateTimeOffset.UtcNow;
                var second = now.ToUnixTimeSeconds();
                if (second != Volatile.Read(ref _second))
                {
                    Volatile.Write(ref _value, now.ToString("r", System.Globalization.CultureInfo.InvariantCulture));
                    Volatile.Write(ref _second, second);
                }

                return Volatile.Read(ref _value);
            }
        }
    }
}
