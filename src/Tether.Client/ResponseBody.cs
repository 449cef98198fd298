using System.Buffers;
using System.Net;
using Tether.Upstream;
using Tether.Upstream.Destinations;
using Tether.Upstream.Http1;
using Tether.Upstream.Pooling;

namespace Tether.Client;

/// <summary>
/// A response's content, read straight from the pooled connection (nothing is buffered beyond the connection's own
/// read buffer). The content holds the exchange itself: the connection goes back to the pool the moment the body's
/// last byte is read, and the request stops counting as in flight for least-connections; a body abandoned before its
/// end closes it. Read whole (ReadAsStringAsync, ReadAsByteArrayAsync, CopyToAsync, LoadIntoBufferAsync), the body is
/// copied from here; a <see cref="ResponseBodyStream"/> is made only for a caller that asks for a stream, so the usual
/// small response costs no stream object.
/// </summary>
internal sealed class ResponseContent : HttpContent
{
    private readonly DestinationState _destination;
    private readonly Http1Connection _connection;
    private readonly TimeSpan _timeout;

    // Why the connection is closed once the body ends cleanly (null: back to the pool), decided from the head before the
    // connection (and its head object) can be reused by another request.
    private readonly ConnectionCloseReason? _closeAfter;

    // The response had no body bytes to read when its head arrived (a 204, a HEAD, Content-Length: 0): the content is
    // empty, and the exchange is ended by TryEndIfComplete before the response is handed out.
    private readonly bool _empty;

    // 1 once the exchange has ended (the connection given back or closed): from then on _connection belongs to the pool,
    // maybe to another request, and is never touched again.
    private int _ended;
    private int _consumed;

    public ResponseContent(DestinationState destination, Http1Connection connection, TimeSpan timeout, ConnectionCloseReason? closeAfter)
    {
        _destination = destination;
        _connection = connection;
        _timeout = timeout;
        _closeAfter = closeAfter;
        _empty = connection.IsBodyComplete;
    }

    /// <summary>Ends the exchange if the body has no bytes left to read (a bodiless response, or the last read).</summary>
    public bool TryEndIfComplete()
    {
        if (Volatile.Read(ref _ended) == 0 && _connection.IsBodyComplete)
        {
            End(null);
            return true;
        }

        return Volatile.Read(ref _ended) != 0;
    }

    /// <summary>Up to <paramref name="buffer"/>.Length body bytes; 0 at the end.</summary>
    public ValueTask<int> ReadBodyAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _ended) != 0 || buffer.IsEmpty)
        {
            return new(0);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        // Bytes that came with the head (all of a small body): no wait, so no cancellation to register.
        var buffered = _connection.BufferedBody;
        if (!buffered.IsEmpty)
        {
            var n = Math.Min(buffered.Length, buffer.Length);
            buffered.Span[..n].CopyTo(buffer.Span);
            _connection.ConsumeBufferedBody(n);
            EndIfComplete();
            return new(n);
        }

        return ReceiveAsync(buffer, cancellationToken);
    }

    /// <summary>Copies the rest of the body to <paramref name="destination"/>. What is already buffered is written from
    /// the connection's buffer, with no copy buffer and no wait.</summary>
    public Task CopyBodyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(destination);
        try
        {
            while (Volatile.Read(ref _ended) == 0 && _connection.BufferedBody is { IsEmpty: false } buffered)
            {
                var write = destination.WriteAsync(buffered, cancellationToken);
                if (!write.IsCompletedSuccessfully)
                {
                    return FinishWriteThenCopyAsync(write, buffered.Length, destination, bufferSize, cancellationToken);
                }

                _connection.ConsumeBufferedBody(buffered.Length);
                EndIfComplete();
            }
        }
        catch (Exception ex)
        {
            return Task.FromException(ex);
        }

        return Volatile.Read(ref _ended) != 0 ? Task.CompletedTask : CopyReceivedAsync(destination, bufferSize, cancellationToken);
    }

    /// <summary>The caller let the body go before its end (disposed its stream or the response): the rest is still on
    /// the wire, so the connection cannot carry another request (SocketsHttpHandler drains a little; closing costs one
    /// new connection and never waits on the server).</summary>
    public void Abandon() => End(ConnectionCloseReason.Error);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        if (_empty)
        {
            return Task.CompletedTask;
        }

        TakeOnce();
        return CopyBodyToAsync(stream, 16 * 1024, cancellationToken);
    }

    protected override Task<Stream> CreateContentReadStreamAsync() => Task.FromResult(ReadStream());

    protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) => Task.FromResult(ReadStream());

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken) => ReadStream();

    protected override bool TryComputeLength(out long length)
    {
        // A length the server sent is in the Content-Length header, which HttpContentHeaders reads first.
        length = 0;
        return _empty;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Abandon();
        }

        base.Dispose(disposing);
    }

    private Stream ReadStream()
    {
        if (_empty)
        {
            return Stream.Null;
        }

        TakeOnce();
        return new ResponseBodyStream(this);
    }

    private void TakeOnce()
    {
        if (Interlocked.Exchange(ref _consumed, 1) != 0)
        {
            throw new InvalidOperationException("The response content was already read; it streams from the connection and can be read once (buffer it with LoadIntoBufferAsync to read it again).");
        }
    }

    private async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var registration = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static s => ((Http1Connection)s!).Abort(), _connection)
            : default;
        int n;
        try
        {
            n = await _connection.ReadBodyAsync(buffer, new ReadTimeouts(_timeout)).ConfigureAwait(false);
        }
        catch (UpstreamException ex)
        {
            await registration.DisposeAsync().ConfigureAwait(false);
            End(ex.Kind == UpstreamErrorKind.InvalidResponse ? ConnectionCloseReason.InvalidResponse : ConnectionCloseReason.Error);
            if (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("The response body read was canceled.", ex, cancellationToken);
            }

            throw ClientErrors.BodyFailed(ex);
        }

        await registration.DisposeAsync().ConfigureAwait(false);
        EndIfComplete();
        return n;
    }

    private async Task FinishWriteThenCopyAsync(ValueTask write, int length, Stream destination, int bufferSize, CancellationToken cancellationToken)
    {
        await write.ConfigureAwait(false);
        _connection.ConsumeBufferedBody(length);
        EndIfComplete();
        await CopyBodyToAsync(destination, bufferSize, cancellationToken).ConfigureAwait(false);
    }

    private async Task CopyReceivedAsync(Stream destination, int bufferSize, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Clamp(bufferSize, 4096, 64 * 1024));
        try
        {
            int n;
            while ((n = await ReadBodyAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                await destination.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void EndIfComplete()
    {
        if (_connection.IsBodyComplete)
        {
            End(null);
        }
    }

    private void End(ConnectionCloseReason? failure)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return;
        }

        var reason = failure ?? _closeAfter ?? _connection.EndExchange();
        _destination.Pool.Release(_connection, reason);
        _destination.OnRequestEnded();
    }
}

/// <summary>
/// The response body as a stream, for a caller that asked for one (ReadAsStreamAsync): a view of its
/// <see cref="ResponseContent"/>, which holds the exchange. Disposing it before the end closes the connection.
/// </summary>
internal sealed class ResponseBodyStream(ResponseContent content) : ReadOnlyBodyStream
{
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        content.ReadBodyAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override int Read(Span<byte> buffer)
    {
        var rented = ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            var n = Read(rented, 0, buffer.Length);
            rented.AsSpan(0, n).CopyTo(buffer);
            return n;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Copies the rest of the body to <paramref name="destination"/> (what ReadAsStringAsync and friends use).</summary>
    public override Task CopyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken) =>
        content.CopyBodyToAsync(destination, bufferSize, cancellationToken);

    protected override void Dispose(bool disposing)
    {
        content.Abandon();
        base.Dispose(disposing);
    }
}
