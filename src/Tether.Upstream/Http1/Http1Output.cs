using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Tether.Upstream.Http1;

/// <summary>
/// The bytes of a request on their way to the backend: written into pooled segments, sent on <see cref="FlushAsync"/>
/// straight to the socket (cleartext) or through TLS, and the segments given back, so an idle connection holds none.
/// In place of a <c>PipeWriter</c> over a <c>NetworkStream</c>: two layers and a state machine less on every request.
/// One writer at a time (the connection's holder), like the pipe writer it replaces.
/// </summary>
public sealed class Http1Output : IBufferWriter<byte>
{
    // The head of a request and a small body fit in one; a larger body written before a flush takes more of them.
    private const int SegmentBytes = 16 * 1024;

    private readonly Socket _socket;
    private readonly SslStream? _tls;

    // The segment being written, and those filled before it since the last flush (in order).
    private byte[]? _current;
    private int _written;
    private List<(byte[] Buffer, int Count)>? _filled;
    private bool _completed;

    internal Http1Output(Socket socket, SslStream? tls)
    {
        _socket = socket;
        _tls = tls;
    }

    /// <summary>Bytes written and not yet flushed.</summary>
    public long UnflushedBytes
    {
        get
        {
            long total = _written;
            if (_filled is not null)
            {
                foreach (var (_, count) in _filled)
                {
                    total += count;
                }
            }

            return total;
        }
    }

    /// <inheritdoc />
    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (_current is null || count > _current.Length - _written)
        {
            throw new InvalidOperationException("Advanced past the memory that was asked for.");
        }

        _written += count;
    }

    /// <inheritdoc />
    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _current.AsMemory(_written);
    }

    /// <inheritdoc />
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _current.AsSpan(_written);
    }

    /// <summary>Sends what was written. Socket and TLS errors are thrown as they come (the connection wraps them).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask FlushAsync()
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        try
        {
            if (_filled is not null)
            {
                foreach (var (buffer, count) in _filled)
                {
                    await SendAsync(buffer.AsMemory(0, count)).ConfigureAwait(false);
                }
            }

            if (_written > 0)
            {
                await SendAsync(_current.AsMemory(0, _written)).ConfigureAwait(false);
            }
        }
        finally
        {
            // Sent or failed, the sends are over: the segments are free again.
            Release();
        }
    }

    /// <summary>Drops what was not flushed; later writes and flushes throw.</summary>
    /// <remarks>
    /// The segments are left to the GC, not given back to the pool: a close can come while a body pump on another task
    /// is still writing into a segment or a send is still reading from one, and a segment back in the pool could then
    /// carry another request's bytes to this backend. Nothing is held between requests (a flush gives them back), so
    /// this costs only a close in the middle of a request.
    /// </remarks>
    public void Complete()
    {
        _completed = true;
        _current = null;
        _written = 0;
        _filled = null;
    }

    private void Reserve(int sizeHint)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        sizeHint = Math.Max(sizeHint, 1);
        if (_current is not null && _current.Length - _written >= sizeHint)
        {
            return;
        }

        if (_current is not null && _written > 0)
        {
            (_filled ??= []).Add((_current, _written));
        }
        else if (_current is not null)
        {
            ArrayPool<byte>.Shared.Return(_current);
        }

        _current = ArrayPool<byte>.Shared.Rent(Math.Max(SegmentBytes, sizeHint));
        _written = 0;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendAsync(ReadOnlyMemory<byte> bytes)
    {
        if (_tls is not null)
        {
            await _tls.WriteAsync(bytes).ConfigureAwait(false);
            return;
        }

        // A stream socket's send completes whole on Linux; the loop covers a platform where it might not.
        while (!bytes.IsEmpty)
        {
            var sent = await _socket.SendAsync(bytes, SocketFlags.None).ConfigureAwait(false);
            if (sent <= 0)
            {
                throw new IOException("the socket accepted no bytes");
            }

            bytes = bytes[sent..];
        }
    }

    private void Release()
    {
        if (_filled is { Count: > 0 } filled)
        {
            foreach (var (buffer, _) in filled)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            filled.Clear();
        }

        if (_current is { } current)
        {
            _current = null;
            _written = 0;
            ArrayPool<byte>.Shared.Return(current);
        }
    }
}
