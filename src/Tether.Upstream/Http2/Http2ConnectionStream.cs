using System.Buffers;
using System.Buffers.Binary;

namespace Tether.Upstream.Http2;

/// <summary>
/// The stream an HTTP/2 backend connection is spoken over, as handed to SocketsHttpHandler. It counts the
/// connection's close, and it holds the connection to <c>pool.maxConcurrentStreams</c>: every SETTINGS frame
/// from the backend is read as it passes, and its SETTINGS_MAX_CONCURRENT_STREAMS is lowered to the cap (or the
/// cap added, when the backend announced none and so allowed any number). SocketsHttpHandler then opens another
/// connection instead of a stream above the cap. Frames are scanned in a buffer of their own, so the handler's
/// reads stay large; DATA payloads pass straight into the handler's buffer when nothing is buffered.
/// </summary>
internal sealed class Http2ConnectionStream : Stream
{
    private const int FrameHeaderBytes = 9;
    private const byte SettingsType = 0x4;
    private const byte AckFlag = 0x1;
    private const ushort MaxConcurrentStreamsId = 0x3;
    private const int BufferBytes = 32 * 1024;

    private readonly Stream _inner;
    private readonly IDisposable _owner;
    private readonly uint _cap;
    private readonly Action _onClosed;
    private byte[]? _buffer;

    // _buffer[_start.._scanned) is checked and may be handed out; [_scanned.._end) is received, not yet checked.
    private int _start;
    private int _scanned;
    private int _end;

    // Payload bytes of the current (non-SETTINGS) frame not yet received: they pass unchecked.
    private long _passThrough;
    private int _closed;

    /// <param name="owner">Disposed with this stream (the transport: TLS, socket).</param>
    /// <param name="cap">Highest SETTINGS_MAX_CONCURRENT_STREAMS the handler may see; 0 = leave the backend's.</param>
    public Http2ConnectionStream(Stream inner, IDisposable owner, int cap, Action onClosed)
    {
        _inner = inner;
        _owner = owner;
        _cap = (uint)Math.Max(0, cap);
        _onClosed = onClosed;
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

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default) => _inner.WriteAsync(source, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _inner.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => _inner.Write(buffer, offset, count);

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
