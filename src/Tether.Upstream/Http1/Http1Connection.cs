using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Tether.Configuration;
using Tether.Upstream.Pooling;

namespace Tether.Upstream.Http1;

/// <summary>
/// One HTTP/1.1 connection to a backend: a socket, a pipe reader and writer over it, and the state of the
/// exchange in progress. Used by one request at a time; the pool holds it in between.
/// </summary>
public sealed class Http1Connection : IPooledConnection
{
    private const int ReadBufferBytes = 32 * 1024;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    // Re-armed before every read of a response; reset after the exchange. Canceled = responseTimeout elapsed
    // (client aborts close the socket instead, see Abort).
    private readonly CancellationTokenSource _timeoutCts = new();
    private int _closed;

    private Http1Connection(Socket socket, ConnectionLifetime lifetime)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        Input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: ReadBufferBytes, minimumReadSize: 4096, leaveOpen: true));
        Output = PipeWriter.Create(_stream, new StreamPipeWriterOptions(minimumBufferSize: 4096, leaveOpen: true));
        Lifetime = lifetime;
    }

    public ConnectionLifetime Lifetime { get; }

    /// <summary>Bytes from the backend. Outside an exchange it holds nothing.</summary>
    public PipeReader Input { get; }

    /// <summary>Bytes to the backend: the forwarder writes the request head and body here.</summary>
    public PipeWriter Output { get; }

    /// <summary>The head of the response being read; valid until the next request.</summary>
    public Http1ResponseHead Head { get; } = new();

    /// <summary>Whether any byte of the current response has arrived (decides whether a retry is safe).</summary>
    public bool ResponseBytesReceived { get; private set; }

    public EndPoint? LocalEndPoint => _socket.LocalEndPoint;

    public static ValueTask<Http1Connection> ConnectAsync(
        EndPoint endPoint, TimeSpan connectTimeout, TcpKeepAliveConfig? keepAlive, Func<ConnectionLifetime> lifetime, CancellationToken cancellationToken) =>
        ConnectAsync(endPoint, connectTimeout, keepAlive, lifetime, ReadOnlyMemory<byte>.Empty, cancellationToken);

    /// <summary>Connects, then sends <paramref name="preamble"/> (a PROXY protocol header) before anything else;
    /// a connection that carries one speaks for one client and must not be shared with another.</summary>
    public static async ValueTask<Http1Connection> ConnectAsync(
        EndPoint endPoint, TimeSpan connectTimeout, TcpKeepAliveConfig? keepAlive, Func<ConnectionLifetime> lifetime, ReadOnlyMemory<byte> preamble, CancellationToken cancellationToken)
    {
        var socket = endPoint is DnsEndPoint
            ? new Socket(SocketType.Stream, ProtocolType.Tcp)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.NoDelay = true;
            if (keepAlive is not null)
            {
                SocketOptions.SetTcpKeepAlive(socket, keepAlive);
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(connectTimeout);
            try
            {
                await socket.ConnectAsync(endPoint, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new UpstreamException(UpstreamPhase.Connect, UpstreamErrorKind.Timeout, $"connect timed out after {connectTimeout.TotalMilliseconds:0}ms");
            }
            catch (SocketException ex)
            {
                throw new UpstreamException(UpstreamPhase.Connect, UpstreamErrorKind.Refused, $"connect failed: {ex.SocketErrorCode}", ex);
            }

            if (!preamble.IsEmpty)
            {
                try
                {
                    await socket.SendAsync(preamble, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                }
                catch (SocketException ex)
                {
                    throw new UpstreamException(UpstreamPhase.Connect, UpstreamErrorKind.Reset, $"sending the PROXY header failed: {ex.SocketErrorCode}", ex);
                }
            }

            return new Http1Connection(socket, lifetime());
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public ConnectionCloseReason? ProbeIdle()
    {
        // Readable while idle means the backend closed (FIN or RST, nothing to read) or sent bytes nobody
        // asked for; either way the connection is not fit for a request. nginx does the same with recv(MSG_PEEK).
        try
        {
            if (!_socket.Poll(0, SelectMode.SelectRead))
            {
                return null;
            }

            return _socket.Available == 0 ? ConnectionCloseReason.PeerClosed : ConnectionCloseReason.UnexpectedData;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return ConnectionCloseReason.PeerClosed;
        }
    }

    /// <summary>Marks the start of an exchange.</summary>
    public void BeginRequest()
    {
        Lifetime.OnRequestStarted();
        ResponseBytesReceived = false;
    }

    /// <summary>Pushes what was written to <see cref="Output"/> onto the socket.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask FlushAsync(UpstreamPhase phase)
    {
        try
        {
            var result = await Output.FlushAsync().ConfigureAwait(false);
            if (result.IsCanceled)
            {
                throw new UpstreamException(phase, UpstreamErrorKind.Reset, "write canceled");
            }
        }
        catch (Exception ex) when (ex is not UpstreamException)
        {
            throw Wrap(ex, phase);
        }
    }

    /// <summary>
    /// Reads the response head, skipping interim 1xx responses (other than 101). Throws
    /// <see cref="UpstreamException"/> typed by what happened.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Http1ResponseHead> ReadResponseHeadAsync(bool requestWasHead, TimeSpan timeout)
    {
        while (true)
        {
            var result = await ReadAsync(UpstreamPhase.ReadHeaders, timeout).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (TryFindHeadEnd(buffer, out var headEnd))
            {
                var head = buffer.Slice(0, headEnd);
                try
                {
                    Head.Parse(head, requestWasHead);
                }
                catch (Http1ParseException ex)
                {
                    Input.AdvanceTo(buffer.Start, buffer.End);
                    throw new UpstreamException(UpstreamPhase.ReadHeaders, UpstreamErrorKind.InvalidResponse, ex.Message, ex) { ResponseBytesReceived = true };
                }

                Input.AdvanceTo(headEnd);
                if (Head.StatusCode is >= 100 and < 200 && Head.StatusCode != 101)
                {
                    continue;
                }

                PrepareBody();
                return Head;
            }

            if (buffer.Length > Http1ResponseHead.MaxHeadBytes)
            {
                Input.AdvanceTo(buffer.Start, buffer.End);
                throw new UpstreamException(UpstreamPhase.ReadHeaders, UpstreamErrorKind.InvalidResponse,
                    $"response head larger than {Http1ResponseHead.MaxHeadBytes} bytes") { ResponseBytesReceived = true };
            }

            if (result.IsCompleted)
            {
                Input.AdvanceTo(buffer.Start, buffer.End);
                throw new UpstreamException(UpstreamPhase.ReadHeaders, UpstreamErrorKind.Closed,
                    buffer.IsEmpty ? "backend closed the connection before responding" : "backend closed the connection in the middle of the response head")
                { ResponseBytesReceived = ResponseBytesReceived };
            }

            Input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private long _bodyRemaining;
    private ChunkedDecoder _chunked;

    private void PrepareBody()
    {
        _bodyRemaining = Head.Framing == BodyFraming.ContentLength ? Head.ContentLength : 0;
        _chunked = default;
    }

    /// <summary>
    /// Copies the response body to <paramref name="destination"/>, flushing as it goes, except after the last
    /// bytes: the caller releases this connection first and then flushes (the client's speed should not hold a
    /// backend connection). Returns true if the body ended cleanly and the connection can carry another request.
    /// </summary>
    /// <exception cref="UpstreamException">The backend failed (ReadBody), or the client did (ClientAborted).</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> CopyBodyAsync(PipeWriter destination, TimeSpan timeout, CancellationToken clientAborted)
    {
        switch (Head.Framing)
        {
            case BodyFraming.None:
                return true;
            case BodyFraming.ContentLength:
                while (true)
                {
                    var result = await ReadAsync(UpstreamPhase.ReadBody, timeout).ConfigureAwait(false);
                    var buffer = result.Buffer;
                    var take = Math.Min(buffer.Length, _bodyRemaining);
                    var slice = buffer.Slice(0, take);
                    Write(destination, slice);
                    _bodyRemaining -= take;
                    Input.AdvanceTo(slice.End);
                    if (_bodyRemaining == 0)
                    {
                        return true;
                    }

                    if (result.IsCompleted)
                    {
                        throw new UpstreamException(UpstreamPhase.ReadBody, UpstreamErrorKind.Closed,
                            $"backend closed the connection with {_bodyRemaining} of {Head.ContentLength} body bytes missing") { ResponseBytesReceived = true };
                    }

                    await FlushClientAsync(destination, clientAborted).ConfigureAwait(false);
                }

            case BodyFraming.Chunked:
                while (true)
                {
                    var result = await ReadAsync(UpstreamPhase.ReadBody, timeout).ConfigureAwait(false);
                    var done = DecodeChunks(result.Buffer, destination, out var consumed);
                    Input.AdvanceTo(consumed, result.Buffer.End);
                    if (done)
                    {
                        return true;
                    }

                    if (result.IsCompleted)
                    {
                        throw new UpstreamException(UpstreamPhase.ReadBody, UpstreamErrorKind.Closed,
                            "backend closed the connection before the last chunk") { ResponseBytesReceived = true };
                    }

                    await FlushClientAsync(destination, clientAborted).ConfigureAwait(false);
                }

            default:
                while (true)
                {
                    var result = await ReadAsync(UpstreamPhase.ReadBody, timeout).ConfigureAwait(false);
                    Write(destination, result.Buffer);
                    Input.AdvanceTo(result.Buffer.End);
                    if (result.IsCompleted)
                    {
                        // Close-delimited: the end of the body is the end of the connection.
                        return false;
                    }

                    await FlushClientAsync(destination, clientAborted).ConfigureAwait(false);
                }
        }
    }

    private bool DecodeChunks(ReadOnlySequence<byte> buffer, PipeWriter destination, out SequencePosition consumed)
    {
        var reader = new SequenceReader<byte>(buffer);
        try
        {
            while (true)
            {
                switch (_chunked.Read(ref reader, out var data))
                {
                    case ChunkedReadResult.Data:
                        Write(destination, data);
                        break;
                    case ChunkedReadResult.NeedMore:
                        consumed = reader.Position;
                        return false;
                    default:
                        consumed = reader.Position;
                        return true;
                }
            }
        }
        catch (Http1ParseException ex)
        {
            throw new UpstreamException(UpstreamPhase.ReadBody, UpstreamErrorKind.InvalidResponse, ex.Message, ex) { ResponseBytesReceived = true };
        }
    }

    /// <summary>
    /// After a 101: relays bytes both ways until either side closes, then closes both. The connection is never
    /// pooled again.
    /// </summary>
    public async Task TunnelAsync(Stream client, CancellationToken cancellationToken)
    {
        using var registration = cancellationToken.UnsafeRegister(static s => ((Http1Connection)s!).Abort(), this);
        var toClient = RelayToClientAsync(client);
        var toBackend = RelayToBackendAsync(client);
        await Task.WhenAny(toClient, toBackend).ConfigureAwait(false);
        Abort();
        try
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
        }

        await Task.WhenAll(toClient, toBackend).ConfigureAwait(false);
    }

    private async Task RelayToClientAsync(Stream client)
    {
        try
        {
            while (true)
            {
                var result = await Input.ReadAsync().ConfigureAwait(false);
                foreach (var segment in result.Buffer)
                {
                    await client.WriteAsync(segment).ConfigureAwait(false);
                }

                await client.FlushAsync().ConfigureAwait(false);
                Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
        }
    }

    private async Task RelayToBackendAsync(Stream client)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            while (true)
            {
                var n = await client.ReadAsync(buffer).ConfigureAwait(false);
                if (n == 0)
                {
                    _socket.Shutdown(SocketShutdown.Send);
                    return;
                }

                await _stream.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>After an exchange that ended cleanly: whether leftover bytes make the connection unusable.</summary>
    public ConnectionCloseReason? EndExchange()
    {
        if (!_timeoutCts.TryReset())
        {
            return ConnectionCloseReason.Error;
        }

        // A backend that sent more than the framing allowed is confused or malicious: never reuse.
        if (Input.TryRead(out var extra))
        {
            var leftover = !extra.Buffer.IsEmpty || extra.IsCompleted;
            Input.AdvanceTo(extra.Buffer.Start, extra.Buffer.End);
            if (leftover)
            {
                return extra.Buffer.IsEmpty ? ConnectionCloseReason.PeerClosed : ConnectionCloseReason.UnexpectedData;
            }
        }

        return null;
    }

    /// <summary>Closes the socket at once (client went away, timeout, shutdown). Pending I/O fails.</summary>
    public void Abort()
    {
        try
        {
            _socket.Dispose();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Close(ConnectionCloseReason reason)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        try
        {
            // A graceful FIN for connections we chose to close; RST is only for failures.
            if (reason is not (ConnectionCloseReason.Error or ConnectionCloseReason.InvalidResponse))
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        Input.Complete();
        Output.Complete();
        _socket.Dispose();
        _timeoutCts.Dispose();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> ReadAsync(UpstreamPhase phase, TimeSpan timeout)
    {
        _timeoutCts.CancelAfter(timeout);
        ReadResult result;
        try
        {
            result = await Input.ReadAsync(_timeoutCts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_timeoutCts.IsCancellationRequested)
        {
            throw new UpstreamException(phase, UpstreamErrorKind.Timeout, $"no response data within responseTimeout {timeout.TotalMilliseconds:0}ms")
            { ResponseBytesReceived = ResponseBytesReceived };
        }
        catch (Exception ex)
        {
            throw Wrap(ex, phase);
        }

        if (!result.Buffer.IsEmpty)
        {
            ResponseBytesReceived = true;
        }

        return result;
    }

    private static void Write(PipeWriter destination, ReadOnlySequence<byte> data)
    {
        if (data.IsSingleSegment)
        {
            destination.Write(data.FirstSpan);
            return;
        }

        foreach (var segment in data)
        {
            destination.Write(segment.Span);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask FlushClientAsync(PipeWriter destination, CancellationToken clientAborted)
    {
        FlushResult flush;
        try
        {
            flush = await destination.FlushAsync(clientAborted).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            throw new UpstreamException(UpstreamPhase.ReadBody, UpstreamErrorKind.ClientAborted, "client went away while the response was sent", ex)
            { ResponseBytesReceived = true };
        }

        if (flush.IsCanceled || flush.IsCompleted)
        {
            throw new UpstreamException(UpstreamPhase.ReadBody, UpstreamErrorKind.ClientAborted, "client went away while the response was sent")
            { ResponseBytesReceived = true };
        }
    }

    private UpstreamException Wrap(Exception ex, UpstreamPhase phase)
    {
        var kind = ex switch
        {
            IOException { InnerException: SocketException } or SocketException => UpstreamErrorKind.Reset,
            ObjectDisposedException or OperationCanceledException => UpstreamErrorKind.ClientAborted,
            _ => UpstreamErrorKind.Reset,
        };
        var detail = ex is IOException { InnerException: SocketException se } ? se.SocketErrorCode.ToString()
            : ex is SocketException s ? s.SocketErrorCode.ToString()
            : ex.Message;
        return new UpstreamException(phase, kind, kind == UpstreamErrorKind.ClientAborted ? "aborted" : $"connection error: {detail}", ex)
        { ResponseBytesReceived = ResponseBytesReceived };
    }

    private static bool TryFindHeadEnd(ReadOnlySequence<byte> buffer, out SequencePosition end)
    {
        if (buffer.IsSingleSegment)
        {
            var i = buffer.FirstSpan.IndexOf("\r\n\r\n"u8);
            if (i >= 0)
            {
                end = buffer.GetPosition(i + 4);
                return true;
            }

            end = default;
            return false;
        }

        var reader = new SequenceReader<byte>(buffer);
        if (reader.TryReadTo(out ReadOnlySequence<byte> _, "\r\n\r\n"u8, advancePastDelimiter: true))
        {
            end = reader.Position;
            return true;
        }

        end = default;
        return false;
    }
}
