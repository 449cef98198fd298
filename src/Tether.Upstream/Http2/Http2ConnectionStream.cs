using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Tether.Upstream.Http2;

/// <summary>
/// The stream an HTTP/2 backend connection is spoken over, as handed to SocketsHttpHandler. It counts the
/// connection's close, and it holds the connection to <c>pool.maxConcurrentStreams</c>: every SETTINGS frame
/// from the backend is read as it passes, and its SETTINGS_MAX_CONCURRENT_STREAMS is lowered to the cap (or the
/// cap added, when the backend announced none and so allowed any number). SocketsHttpHandler then opens another
/// connection instead of a stream above the cap. Frames are scanned in a buffer of their own, so the handler's
/// reads stay large; DATA payloads pass straight into the handler's buffer when nothing is buffered.
/// A client may open streams before the server's SETTINGS arrive (assuming 100), so the stream starts by handing
/// the handler a SETTINGS of its own carrying only the cap, ahead of the backend's; the handler's ACK of it is
/// taken out of what it writes, so the backend sees exactly one ACK, for its own SETTINGS.
/// Over TLS (Tether does the TLS, and the handler is told http://), the one byte of each request's HEADERS that
/// says ":scheme http" (HPACK static index 6) is turned into ":scheme https" (index 7): a backend such as Kestrel
/// refuses a stream whose :scheme does not match its transport.
/// </summary>
internal sealed class Http2ConnectionStream : Stream
{
    private const int FrameHeaderBytes = 9;
    private const byte SettingsType = 0x4;
    private const byte AckFlag = 0x1;
    private const ushort MaxConcurrentStreamsId = 0x3;
    private const int BufferBytes = 32 * 1024;
    private const byte HeadersType = 0x1;
    private const byte PaddedFlag = 0x8;
    private const byte PriorityFlag = 0x20;
    private const byte SchemeHttpIndexed = 0x86;
    private const byte SchemeHttpsIndexed = 0x87;

    private readonly Stream _inner;
    private readonly IDisposable _owner;
    private readonly uint _cap;
    private readonly Action _onClosed;
    private readonly bool _httpsScheme;
    private byte[]? _buffer;

    // Write side (what the handler sends): the 24-byte client preface, then frames, parsed only while there is
    // something to change in them (the ACK of our SETTINGS to drop; :scheme to fix over TLS).
    private int _prefaceLeft = 24;
    private long _writeSkip;
    private readonly byte[] _writeHeader = new byte[FrameHeaderBytes];
    private int _writeHeaderFill;
    private bool _dropNextSettingsAck;

    // _buffer[_start.._scanned) is checked and may be handed out; [_scanned.._end) is received, not yet checked.
    private int _start;
    private int _scanned;
    private int _end;

    // Payload bytes of the current (non-SETTINGS) frame not yet received: they pass unchecked.
    private long _passThrough;
    private int _closed;

    /// <param name="owner">Disposed with this stream (the transport: TLS, socket).</param>
    /// <param name="cap">Highest SETTINGS_MAX_CONCURRENT_STREAMS the handler may see; 0 = leave the backend's.</param>
    /// <param name="httpsScheme">The connection is TLS that the handler does not know of: fix :scheme to https.</param>
    public Http2ConnectionStream(Stream inner, IDisposable owner, int cap, Action onClosed, bool httpsScheme = false)
    {
        _inner = inner;
        _owner = owner;
        _cap = (uint)Math.Max(0, cap);
        _onClosed = onClosed;
        _httpsScheme = httpsScheme;
        if (_cap > 0)
        {
            // Our SETTINGS first, as if the backend had sent it: the handler never assumes more streams than the cap.
            _buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
            _buffer.AsSpan(0, FrameHeaderBytes + 6).Clear();
            _buffer[2] = 6;
            _buffer[3] = SettingsType;
            BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(FrameHeaderBytes), MaxConcurrentStreamsId);
            BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(FrameHeaderBytes + 2), _cap);
            _scanned = _end = FrameHeaderBytes + 6;
            _dropNextSettingsAck = true;
        }
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (_cap == 0)
        {
            return await _inner.ReadAsync(destination, cancellationToken).ConfigureAwait(false);
        }

        while (true)
        {
            if (_scanned > _start)
            {
                var take = Math.Min(_scanned - _start, destination.Length);
                _buffer.AsSpan(_start, take).CopyTo(destination.Span);
                _start += take;
                if (_start == _end)
                {
                    _start = _scanned = _end = 0;
                }

                return take;
            }

            if (_passThrough > 0 && _end == _start)
            {
                // Nothing buffered and inside a frame's payload: straight into the caller's buffer.
                var want = (int)Math.Min(destination.Length, _passThrough);
                var n = await _inner.ReadAsync(destination[..want], cancellationToken).ConfigureAwait(false);
                _passThrough -= n;
                return n;
            }

            _buffer ??= ArrayPool<byte>.Shared.Rent(BufferBytes);
            if (_start > 0)
            {
                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                _scanned -= _start;
                _end -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                // A SETTINGS frame larger than the buffer: grow (SETTINGS payloads are bounded by the frame size).
                var larger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
                _buffer.AsSpan(0, _end).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = larger;
            }

            var read = await _inner.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                // End of stream: what is buffered unchecked is an incomplete frame; hand it over as it is.
                if (_end > _start)
                {
                    _scanned = _end;
                    continue;
                }

                return 0;
            }

            _end += read;
            Scan();
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        if (!_httpsScheme && !_dropNextSettingsAck)
        {
            return _inner.WriteAsync(source, cancellationToken);
        }

        var drop = InspectWrite(MemoryMarshal.AsMemory(source).Span);
        return drop < 0 ? _inner.WriteAsync(source, cancellationToken) : WriteAroundAsync(source, drop, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    public override void Flush() => _inner.Flush();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _closed, 1) == 0)
        {
            _owner.Dispose();
            if (_buffer is { } buffer)
            {
                _buffer = null;
                ArrayPool<byte>.Shared.Return(buffer);
            }

            _onClosed();
        }

        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    private async ValueTask WriteAroundAsync(ReadOnlyMemory<byte> source, int drop, CancellationToken cancellationToken)
    {
        if (drop > 0)
        {
            await _inner.WriteAsync(source[..drop], cancellationToken).ConfigureAwait(false);
        }

        if (drop + FrameHeaderBytes < source.Length)
        {
            await _inner.WriteAsync(source[(drop + FrameHeaderBytes)..], cancellationToken).ConfigureAwait(false);
        }
    }

    // Walks the frames the handler writes: fixes :scheme in HEADERS (over TLS) and finds the ACK of our SETTINGS.
    // Returns the offset of that ACK's 9 bytes, to be left out, or -1.
    private int InspectWrite(Span<byte> span)
    {
        var drop = -1;
        var i = 0;
        if (_prefaceLeft > 0)
        {
            var take = Math.Min(_prefaceLeft, span.Length);
            _prefaceLeft -= take;
            i += take;
        }

        while (i < span.Length)
        {
            if (_writeSkip > 0)
            {
                var skip = (int)Math.Min(_writeSkip, span.Length - i);
                _writeSkip -= skip;
                i += skip;
                continue;
            }

            var start = i - _writeHeaderFill;
            var take = Math.Min(FrameHeaderBytes - _writeHeaderFill, span.Length - i);
            span.Slice(i, take).CopyTo(_writeHeader.AsSpan(_writeHeaderFill));
            _writeHeaderFill += take;
            i += take;
            if (_writeHeaderFill < FrameHeaderBytes)
            {
                break;
            }

            _writeHeaderFill = 0;
            var length = (_writeHeader[0] << 16) | (_writeHeader[1] << 8) | _writeHeader[2];
            var type = _writeHeader[3];
            var flags = _writeHeader[4];
            if (type == SettingsType && (flags & AckFlag) != 0 && length == 0 && _dropNextSettingsAck && start >= 0)
            {
                _dropNextSettingsAck = false;
                drop = start;
                continue;
            }

            if (type == HeadersType && _httpsScheme)
            {
                FixScheme(span[i..Math.Min(span.Length, i + length)], flags);
            }

            _writeSkip = length;
        }

        return drop;
    }

    // ":scheme http" is the second field SocketsHttpHandler writes, as the one byte 0x86 (RFC 7541 static index 6),
    // after :method (indexed, or a literal with an indexed name). Anything else is left as it is.
    private static void FixScheme(Span<byte> block, byte flags)
    {
        var p = 0;
        if ((flags & PaddedFlag) != 0)
        {
            p += 1;
        }

        if ((flags & PriorityFlag) != 0)
        {
            p += 5;
        }

        if (p >= block.Length)
        {
            return;
        }

        var first = block[p];
        if ((first & 0x80) != 0)
        {
            p += 1;
        }
        else
        {
            var nameIndexMask = (first & 0x40) != 0 ? 0x3F : 0x0F;
            if ((first & nameIndexMask) == 0 || p + 1 >= block.Length || (block[p + 1] & 0x7F) == 0x7F)
            {
                return;
            }

            p += 2 + (block[p + 1] & 0x7F);
        }

        if (p < block.Length && block[p] == SchemeHttpIndexed)
        {
            block[p] = SchemeHttpsIndexed;
        }
    }

    // Advances _scanned over whole frames (and the received part of a passing payload), rewriting SETTINGS.
    private void Scan()
    {
        while (_scanned < _end)
        {
            if (_passThrough > 0)
            {
                var take = (int)Math.Min(_passThrough, _end - _scanned);
                _scanned += take;
                _passThrough -= take;
                continue;
            }

            if (_end - _scanned < FrameHeaderBytes)
            {
                return;
            }

            var header = _buffer.AsSpan(_scanned, FrameHeaderBytes);
            var length = (header[0] << 16) | (header[1] << 8) | header[2];
            if (header[3] != SettingsType || (header[4] & AckFlag) != 0 || length % 6 != 0)
            {
                // Not a SETTINGS to change (a malformed one is the handler's to refuse, as sent).
                _scanned += FrameHeaderBytes;
                _passThrough = length;
                continue;
            }

            if (_end - _scanned < FrameHeaderBytes + length)
            {
                return; // the whole SETTINGS frame first
            }

            _scanned += FrameHeaderBytes + CapSettings(_scanned, length);
        }
    }

    // Lowers or adds SETTINGS_MAX_CONCURRENT_STREAMS in the frame at `at`; returns the payload's new length.
    private int CapSettings(int at, int length)
    {
        var payload = _buffer.AsSpan(at + FrameHeaderBytes, length);
        for (var i = 0; i < length; i += 6)
        {
            if (BinaryPrimitives.ReadUInt16BigEndian(payload[i..]) == MaxConcurrentStreamsId)
            {
                var value = BinaryPrimitives.ReadUInt32BigEndian(payload[(i + 2)..]);
                if (value > _cap)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(payload[(i + 2)..], _cap);
                }

                return length;
            }
        }

        // None announced (unlimited): add one, moving what follows the frame 6 bytes on.
        var after = at + FrameHeaderBytes + length;
        if (_end + 6 > _buffer!.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
            _buffer.AsSpan(0, _end).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }

        _buffer.AsSpan(after, _end - after).CopyTo(_buffer.AsSpan(after + 6));
        _end += 6;
        BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(after), MaxConcurrentStreamsId);
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(after + 2), _cap);
        var newLength = length + 6;
        _buffer[at] = (byte)(newLength >> 16);
        _buffer[at + 1] = (byte)(newLength >> 8);
        _buffer[at + 2] = (byte)newLength;
        return newLength;
    }
}
