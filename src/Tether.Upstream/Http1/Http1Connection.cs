using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Tether.Upstream.Connecting;
using Tether.Upstream.Pooling;

using Tether.Upstream.Tunnels;

namespace Tether.Upstream.Http1;

/// <summary>
/// One HTTP/1.1 connection to a backend: a socket, a read buffer and a request writer over it, and the state of the
/// exchange in progress. Used by one request at a time; the pool holds it in between.
/// </summary>
public sealed class Http1Connection : IPooledConnection
{
    // Reads land in a pooled buffer that is given back whenever the connection goes idle, so an idle pooled
    // connection holds no buffer. A head may need up to MaxHeadBytes; the buffer grows to that if it must.
    // 32 KiB takes a 16 KB response with its head in one receive, so it reaches the client in one send with no
    // flush in between (16 KiB: 3.9 receives and 2.8 sends per proxied request; 32 KiB: 3.2 and 1.95).
    private const int ReadBufferBytes = 32 * 1024;

    // Large bodies are received straight into the client's response pipe, at most this much per read.
    private const int DirectReadBytes = 64 * 1024;

    private readonly UpstreamTransport _transport;
    private readonly Socket _socket;

    // Null for cleartext: then reads go to the socket directly (one layer less on every request).
    private readonly SslStream? _tls;

    // Re-armed before every read of a response; reset after the exchange. Canceled = responseTimeout elapsed
    // (client aborts close the socket instead, see Abort).
    private readonly CancellationTokenSource _timeoutCts = new();
    private int _closed;

    // What the timer armed last is: readIdleTimeout (true) or responseTimeout, and for how long (for the error).
    private bool _idleArmed;
    private TimeSpan _armed;

    // Whether _timeoutCts's timer was set since its last reset. An infinite timeout (Tether.Client's default
    // ResponseTimeout) sets no timer and its receives carry no token: CancelAfter and TryReset each take the timer
    // queue's lock, and a token costs a registration per receive.
    private bool _timerSet;

    // Invariant: _buffer[_start.._end) holds bytes received and not yet consumed; _buffer is null when empty
    // between exchanges.
    private byte[]? _buffer;
    private int _start;
    private int _end;

    private long _bodyRemaining;
    private ChunkedDecoder _chunked;

    // A close-delimited body (BodyFraming.CloseDelimited) read to the backend's FIN by ReadBodyAsync.
    private bool _closeDelimitedEnded;

    // The response's first receive, started by ProbeBeforeUse into _buffer at 0 when the pool hands the connection
    // out (cleartext only): the check that an idle connection is still open is that receive finding nothing yet, not a
    // poll() of its own (SocketsHttpHandler's read-ahead). It carries _timeoutCts's token, which is not armed until the
    // head read arms it. Taken by ReadResponseHeadAsync; pending from ProbeBeforeUse until then (or Close).
    private ValueTask<int> _readAhead;
    private bool _readAheadPending;

    private Http1Connection(UpstreamTransport transport, ConnectionLifetime lifetime)
    {
        _transport = transport;
        _socket = transport.Socket;
        _tls = transport.Tls;
        Output = new Http1Output(_socket, _tls);
        Lifetime = lifetime;
    }

    public ConnectionLifetime Lifetime { get; }

    /// <inheritdoc />
    public int HomeThreadId { get; private set; }

    /// <summary>Bytes to the backend: the forwarder writes the request head and body here.</summary>
    public Http1Output Output { get; }

    /// <summary>The head of the response being read; valid until the next request.</summary>
    public Http1ResponseHead Head { get; } = new();

    /// <summary>Whether any byte of the current response has arrived (decides whether a retry is safe).</summary>
    public bool ResponseBytesReceived { get; private set; }

    /// <summary>Spoken over TLS (an https:// destination).</summary>
    public bool IsTls => _tls is not null;

    private int BufferedCount => _end - _start;

    /// <summary>Opens a connection through the destination's connector (TCP, PROXY header, TLS with ALPN http/1.1).</summary>
    public static async ValueTask<Http1Connection> ConnectAsync(
        UpstreamConnector connector, ConnectData data, Func<ConnectionLifetime> lifetime, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connector);
        ArgumentNullException.ThrowIfNull(lifetime);
        var transport = await connector.ConnectAsync(data, AlpnOffer.Http1, cancellationToken).ConfigureAwait(false);
        return new Http1Connection(transport, lifetime());
    }

    /// <inheritdoc/>
    public ConnectionCloseReason? ProbeIdle()
    {
        if (_readAheadPending && _readAhead.IsCompleted)
        {
            return TakeCompletedReadAhead();
        }

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

    /// <summary>
    /// Called by the pool on an idle connection it hands to a request. Cleartext: starts the response's first receive
    /// now, so the check costs no syscall of its own; a receive that completes at once found the connection closed
    /// (0 bytes, or an error) or holding bytes nobody asked for. TLS: <see cref="ProbeIdle"/>. Never blocks.
    /// </summary>
    public ConnectionCloseReason? ProbeBeforeUse()
    {
        if (_tls is not null)
        {
            return ProbeIdle();
        }

        if (!_readAheadPending)
        {
            // An idle connection holds no bytes (EndExchange refuses to pool one that does), so _end is 0 here.
            PrepareFill();
            try
            {
                // No token: the head read that takes it over arms a timer only when the request has a finite
                // timeout (Tether.Client's default has none), and a token would cost a registration on every receive.
                _readAhead = _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return ConnectionCloseReason.PeerClosed;
            }

            _readAheadPending = true;
        }

        // Still pending: open and quiet, as it should be.
        return _readAhead.IsCompleted ? TakeCompletedReadAhead() : null;
    }

    // A read-ahead that completed while the connection was idle: the backend closed it or sent unasked-for bytes.
    private ConnectionCloseReason TakeCompletedReadAhead()
    {
        _readAheadPending = false;
        var readAhead = _readAhead;
        _readAhead = default;
        try
        {
            return readAhead.GetAwaiter().GetResult() == 0 ? ConnectionCloseReason.PeerClosed : ConnectionCloseReason.UnexpectedData;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
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
            await Output.FlushAsync().ConfigureAwait(false);
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
    public async ValueTask<Http1ResponseHead> ReadResponseHeadAsync(bool requestWasHead, ReadTimeouts timeouts)
    {
        var searched = 0;
        var started = timeouts.Idle is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
        while (true)
        {
            if (BufferedCount > 0)
            {
                var buffered = _buffer.AsSpan(_start, BufferedCount);

                // Resume the search a few bytes back: the terminator may straddle two reads.
                var from = Math.Max(0, searched - 3);
                var end = buffered[from..].IndexOf("\r\n\r\n"u8);
                if (end >= 0)
                {
                    var headLength = from + end + 4;
                    try
                    {
                        Head.Parse(new ReadOnlySequence<byte>(_buffer!, _start, headLength), requestWasHead);
                    }
                    catch (Http1ParseException ex)
                    {
                        throw new UpstreamException(UpstreamPhase.ReadHeaders, UpstreamErrorKind.InvalidResponse, ex.Message, ex) { ResponseBytesReceived = true };
                    }

                    Consume(headLength);
                    searched = 0;
                    if (Head.StatusCode is >= 100 and < 200 && Head.StatusCode != 101)
                    {
                        continue;
                    }

                    _bodyRemaining = Head.Framing == BodyFraming.ContentLength ? Head.ContentLength : 0;
                    _chunked = default;
                    _closeDelimitedEnded = false;
                    return Head;
                }

                // A line ended by a bare LF would never meet the CRLFCRLF searched for: refused now, not at the timeout.
                if (HasBareLineFeed(buffered, from))
                {
                    throw new UpstreamException(UpstreamPhase.ReadHeaders, UpstreamErrorKind.InvalidResponse,
                        "bare LF in the response head (HTTP/1.1 lines end with CRLF)") { ResponseBytesReceived = true };
                }

                searched = buffered.Length;
                if (buffered.Length > Http1ResponseHead.MaxHeadBytes)
                {
                    throw new UpstreamException(UpstreamPhase.ReadHeaders, UpstreamErrorKind.InvalidResponse,
                        $"response head larger than {Http1ResponseHead.MaxHeadBytes} bytes") { ResponseBytesReceived = true };
                }
            }

            // The socket is awaited here rather than through FillAsync: one async layer less on the path every
            // request takes (each layer that suspends costs a state-machine box and a resume).
            PrepareFill();
            Arm(timeouts, started == 0 ? TimeSpan.Zero : System.Diagnostics.Stopwatch.GetElapsedTime(started));
            int n;
            CancellationTokenRegistration readAheadTimeout = default;
            try
            {
                ValueTask<int> receive;
                if (_readAheadPending)
                {
                    // Started by ProbeBeforeUse into _buffer at _end (still 0: nothing was buffered since), without a
                    // token: a timer armed for this wait aborts the socket instead (ReceiveFailed names it a timeout).
                    receive = _readAhead;
                    _readAhead = default;
                    _readAheadPending = false;
                    if (_timerSet && !receive.IsCompleted)
                    {
                        readAheadTimeout = _timeoutCts.Token.UnsafeRegister(static s => ((Http1Connection)s!).Abort(), this);
                    }
                }
                else
                {
                    receive = Receive(_buffer.AsMemory(_end), ReceiveToken);
                }

                if (receive.IsCompleted)
                {
                    n = receive.GetAwaiter().GetResult();
                }
                else
                {
                    n = await receive.ConfigureAwait(false);

                    // Resumed by the socket's own completion: this is the thread its events run on.
                    HomeThreadId = Environment.CurrentManagedThreadId;
                }
            }
            catch (Exception ex)
            {
                throw ReceiveFailed(ex, UpstreamPhase.ReadHeaders);
            }
            finally
            {
                readAheadTimeout.Dispose();
            }

            if (n == 0)
            {
                throw new UpstreamException(UpstreamPhase.ReadHeaders, UpstreamErrorKind.Closed,
                    ResponseBytesReceived ? "backend closed the connection in the middle of the response head" : "backend closed the connection before responding")
                { ResponseBytesReceived = ResponseBytesReceived };
            }

            _end += n;
            ResponseBytesReceived = true;
        }
    }

    private static bool HasBareLineFeed(ReadOnlySpan<byte> buffered, int from)
    {
        var at = from;
        while (true)
        {
            var lf = buffered[at..].IndexOf((byte)'\n');
            if (lf < 0)
            {
                return false;
            }

            at += lf;
            if (at == 0 || buffered[at - 1] != (byte)'\r')
            {
                return true;
            }

            at++;
        }
    }

    /// <summary>
    /// Copies the response body to <paramref name="destination"/>, flushing as it goes, except after the last
    /// bytes: the caller releases this connection first and then flushes (the client's speed should not hold a
    /// backend connection). Returns true if the body ended cleanly and the connection can carry another request.
    /// </summary>
    /// <exception cref="UpstreamException">The backend failed (ReadBody), or the client did (ClientAborted).</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> CopyBodyAsync(PipeWriter destination, ReadTimeouts timeout, CancellationToken clientAborted)
    {
        switch (Head.Framing)
        {
            case BodyFraming.None:
                return true;
            case BodyFraming.ContentLength:
                while (true)
                {
                    if (BufferedCount > 0)
                    {
                        var take = (int)Math.Min(BufferedCount, _bodyRemaining);
                        destination.Write(_buffer.AsSpan(_start, take));
                        Consume(take);
                        _bodyRemaining -= take;
                    }
                    else
                    {
                        // Nothing buffered: receive straight into the client's pipe, never past the body's end.
                        var memory = destination.GetMemory((int)Math.Min(_bodyRemaining, DirectReadBytes));
                        var want = (int)Math.Min(memory.Length, _bodyRemaining);
                        var n = await ReceiveAsync(memory[..want], UpstreamPhase.ReadBody, timeout).ConfigureAwait(false);
                        if (n == 0)
                        {
                            throw new UpstreamException(UpstreamPhase.ReadBody, UpstreamErrorKind.Closed,
                                $"backend closed the connection with {_bodyRemaining} of {Head.ContentLength} body bytes missing") { ResponseBytesReceived = true };
                        }

                        destination.Advance(n);
                        _bodyRemaining -= n;
                    }

                    if (_bodyRemaining == 0)
                    {
                        return true;
                    }

                    await FlushClientAsync(destination, clientAborted).ConfigureAwait(false);
                }

            case BodyFraming.Chunked:
                while (true)
                {
                    if (BufferedCount > 0 && DecodeChunks(destination))
                    {
                        return true;
                    }

                    if (BufferedCount == 0 || destination.UnflushedBytes > 0)
                    {
                        await FlushClientAsync(destination, clientAborted).ConfigureAwait(false);
                    }

                    if (!await FillAsync(UpstreamPhase.ReadBody, timeout).ConfigureAwait(false))
                    {
                        throw new UpstreamException(UpstreamPhase.ReadBody, UpstreamErrorKind.Closed,
                            "backend closed the connection before the last chunk") { ResponseBytesReceived = true };
                    }
                }

            default:
                if (BufferedCount > 0)
                {
                    destination.Write(_buffer.AsSpan(_start, BufferedCount));
                    Consume(BufferedCount);
                    await FlushClientAsync(destination, clientAborted).ConfigureAwait(false);
                }

                while (true)
                {
                    var memory = destination.GetMemory(DirectReadBytes);
                    var n = await ReceiveAsync(memory, UpstreamPhase.ReadBody, timeout).ConfigureAwait(false);
                    if (n == 0)
                    {
                        // Close-delimited: the end of the body is the end of the connection.
                        return false;
                    }

                    destination.Advance(n);
                    await FlushClientAsync(destination, clientAborted).ConfigureAwait(false);
                }
        }
    }

    /// <summary>Whether the body of the current response has been read to its end (always for a bodiless one).</summary>
    public bool IsBodyComplete => Head.Framing switch
    {
        BodyFraming.None => true,
        BodyFraming.ContentLength => _bodyRemaining == 0,
        BodyFraming.Chunked => _chunked.IsDone,
        _ => _closeDelimitedEnded,
    };

    /// <summary>
    /// The bytes of a Content-Length body already in the read buffer (empty when none are, or for another framing), for
    /// a consumer that can take them without a wait (Tether.Client's body stream: a small response's body arrives with
    /// its head). Valid until <see cref="ConsumeBufferedBody"/> or the next read.
    /// </summary>
    public ReadOnlyMemory<byte> BufferedBody =>
        Head.Framing == BodyFraming.ContentLength && BufferedCount > 0 && _bodyRemaining > 0
            ? _buffer.AsMemory(_start, (int)Math.Min(BufferedCount, _bodyRemaining))
            : default;

    /// <summary>Marks <paramref name="count"/> bytes of <see cref="BufferedBody"/> as read.</summary>
    public void ConsumeBufferedBody(int count)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, BufferedBody.Length);
        Consume(count);
        _bodyRemaining -= count;
    }

    /// <summary>
    /// Pull-style body read, for a consumer that is not a pipe (Tether.Client hands the response body to its caller
    /// as a stream): up to <paramref name="destination"/>.Length body bytes, de-chunked; 0 once the body has ended
    /// (then <see cref="IsBodyComplete"/> is true). Never reads past the body's end, so the connection can carry
    /// another request after it. Throws <see cref="UpstreamException"/> (phase ReadBody) as <see cref="CopyBodyAsync"/>.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReadBodyAsync(Memory<byte> destination, ReadTimeouts timeout)
    {
        if (destination.IsEmpty || IsBodyComplete)
        {
            return 0;
        }

        switch (Head.Framing)
        {
            case BodyFraming.ContentLength:
                {
                    var want = (int)Math.Min(destination.Length, _bodyRemaining);
                    int n;
                    if (BufferedCount > 0)
                    {
                        n = Math.Min(want, BufferedCount);
                        _buffer.AsSpan(_start, n).CopyTo(destination.Span);
                        Consume(n);
                    }
                    else
                    {
                        n = await ReceiveAsync(destination[..want], UpstreamPhase.ReadBody, timeout).ConfigureAwait(false);
                        if (n == 0)
                        {
                            throw new UpstreamException(UpstreamPhase.ReadBody, UpstreamErrorKind.Closed,
                                $"backend closed the connection with {_bodyRemaining} of {Head.ContentLength} body bytes missing") { ResponseBytesReceived = true };
                        }
                    }

                    _bodyRemaining -= n;
                    return n;
                }

            case BodyFraming.Chunked:
                while (true)
                {
                    // The decoder is given at most destination.Length input bytes at a time, so the data it returns
                    // always fits; framing cut at the window's edge is carried in its state.
                    while (BufferedCount > 0)
                    {
                        var window = Math.Min(BufferedCount, destination.Length);
                        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(_buffer!, _start, window));
                        ChunkedReadResult result;
                        ReadOnlySequence<byte> data;
                        try
                        {
                            result = _chunked.Read(ref reader, out data);
                        }
                        catch (Http1ParseException ex)
                        {
                            throw new UpstreamException(UpstreamPhase.ReadBody, UpstreamErrorKind.InvalidResponse, ex.Message, ex) { ResponseBytesReceived = true };
                        }

                        var copied = 0;
                        if (result == ChunkedReadResult.Data)
                        {
                            data.CopyTo(destination.Span);
                            copied = (int)data.Length;
                        }

                        Consume((int)reader.Consumed);
                        if (copied > 0 || result == ChunkedReadResult.Done)
                        {
                            return copied;
                        }
                    }

                    if (!await FillAsync(UpstreamPhase.ReadBody, timeout).ConfigureAwait(false))
                    {
                        throw new UpstreamException(UpstreamPhase.ReadBody, UpstreamErrorKind.Closed,
                            "backend closed the connection before the last chunk") { ResponseBytesReceived = true };
                    }
                }

            default:
                {
                    if (BufferedCount > 0)
                    {
                        var n = Math.Min(destination.Length, BufferedCount);
                        _buffer.AsSpan(_start, n).CopyTo(destination.Span);
                        Consume(n);
                        return n;
                    }

                    var received = await ReceiveAsync(destination, UpstreamPhase.ReadBody, timeout).ConfigureAwait(false);
                    _closeDelimitedEnded = received == 0;
                    return received;
                }
        }
    }

    /// <summary>
    /// The trailer fields of the chunked response just read, for forwarding (null when it had none). Read before the
    /// connection goes back to the pool. A line that is not "token: value" with a clean value is dropped, as are fields
    /// a trailer must not carry (framing, routing, hop-by-hop: RFC 9110 §6.5.1).
    /// </summary>
    public List<KeyValuePair<string, string>>? TakeTrailers()
    {
        var raw = _chunked.Trailers;
        if (raw.IsEmpty)
        {
            return null;
        }

        List<KeyValuePair<string, string>>? fields = null;
        foreach (var range in raw.Split("\r\n"u8))
        {
            var line = raw[range];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || !HttpTokens.IsToken(line[..colon]))
            {
                continue;
            }

            var value = line[(colon + 1)..].Trim(" \t"u8);
            if (value.IndexOfAnyInRange((byte)0, (byte)0x08) >= 0 || value.IndexOfAnyInRange((byte)0x0A, (byte)0x1F) >= 0 || value.Contains((byte)0x7F))
            {
                continue;
            }

            var name = System.Text.Encoding.ASCII.GetString(line[..colon]);
            if (HttpTokens.IsHopByHop(name) || IsForbiddenTrailer(name))
            {
                continue;
            }

            (fields ??= []).Add(new(name, System.Text.Encoding.Latin1.GetString(value)));
        }

        return fields;
    }

    private static bool IsForbiddenTrailer(string name) =>
        name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) || name.Equals("Host", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase) || name.Equals("Content-Encoding", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Authorization", StringComparison.OrdinalIgnoreCase) || name.Equals("Set-Cookie", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Cache-Control", StringComparison.OrdinalIgnoreCase);

    // Decodes what is buffered; true when the last chunk and trailers were consumed.
    private bool DecodeChunks(PipeWriter destination)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(_buffer!, _start, BufferedCount));
        try
        {
            while (true)
            {
                switch (_chunked.Read(ref reader, out var data))
                {
                    case ChunkedReadResult.Data:
                        foreach (var segment in data)
                        {
                            destination.Write(segment.Span);
                        }

                        break;
                    case ChunkedReadResult.NeedMore:
                        Consume((int)reader.Consumed);
                        return false;
                    default:
                        Consume((int)reader.Consumed);
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
    /// After a 101: relays bytes both ways (<see cref="Tunnel"/>) until either side closes or the tunnel's watch ends
    /// it, then closes both. The connection is never pooled again.
    /// </summary>
    public async Task<TunnelEnd> TunnelAsync(Stream client, TunnelOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var registration = cancellationToken.UnsafeRegister(static s => ((Http1Connection)s!).Abort(), this);

        // Bytes the backend sent right after its 101 arrived with the head.
        var leftover = BufferedCount > 0 ? _buffer.AsMemory(_start, BufferedCount).ToArray() : default(ReadOnlyMemory<byte>);
        Consume(BufferedCount);
        var tunnel = new Tunnel(_transport.Stream, () => _socket.Shutdown(SocketShutdown.Send), client, options, ReadBufferBytes);
        return await tunnel.RunAsync(leftover, Abort).ConfigureAwait(false);
    }

    /// <summary>After an exchange that ended cleanly: whether leftover bytes make the connection unusable.</summary>
    public ConnectionCloseReason? EndExchange()
    {
        // A read-ahead still pending means no response was read: not an exchange that ended cleanly.
        if (_readAheadPending || (_timerSet ? !_timeoutCts.TryReset() : _timeoutCts.IsCancellationRequested))
        {
            return ConnectionCloseReason.Error;
        }

        _timerSet = false;

        // A backend that sent more than the framing allowed is confused or malicious: never reuse.
        if (BufferedCount > 0)
        {
            return ConnectionCloseReason.UnexpectedData;
        }

        ReturnBuffer();
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

        // Bytes not yet flushed are dropped: a connection closed mid-request must not send the rest of it, e.g. a
        // head whose body proved malformed.
        Output.Complete();
        _transport.Dispose();
        _timeoutCts.Dispose();

        // Close is called by the holder after its last read, so the buffer is no longer in use, unless a read-ahead
        // is still pending: the socket engine may write into it as the socket closes, so it is left to the GC rather
        // than given back to the pool for someone else.
        if (_readAheadPending)
        {
            _readAheadPending = false;
            _buffer = null;
            return;
        }

        ReturnBuffer();
    }

    private void Consume(int count)
    {
        _start += count;
        if (_start == _end)
        {
            _start = 0;
            _end = 0;
        }
    }

    private void ReturnBuffer()
    {
        if (_buffer is { } buffer && _start == _end)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // Makes room after the buffered bytes for another receive.
    private void PrepareFill()
    {
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(ReadBufferBytes);
        }
        else if (_end == _buffer.Length)
        {
            if (_start > 0)
            {
                _buffer.AsSpan(_start, BufferedCount).CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }
            else
            {
                // A head larger than the buffer: grow (bounded by MaxHeadBytes, checked by the caller).
                var larger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
                _buffer.AsSpan(0, _end).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = larger;
            }
        }
    }

    // Receives more into the buffer after what is there. False at end of stream.
    private async ValueTask<bool> FillAsync(UpstreamPhase phase, ReadTimeouts timeout)
    {
        PrepareFill();
        var n = await ReceiveAsync(_buffer.AsMemory(_end), phase, timeout).ConfigureAwait(false);
        _end += n;
        return n > 0;
    }

    private async ValueTask<int> ReceiveAsync(Memory<byte> into, UpstreamPhase phase, ReadTimeouts timeout)
    {
        Arm(timeout, TimeSpan.Zero);
        int n;
        try
        {
            n = await Receive(into, ReceiveToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            throw ReceiveFailed(ex, phase);
        }

        if (n > 0)
        {
            ResponseBytesReceived = true;
        }

        return n;
    }

    private ValueTask<int> Receive(Memory<byte> into, CancellationToken cancellationToken) =>
        _tls is null ? _socket.ReceiveAsync(into, SocketFlags.None, cancellationToken) : _tls.ReadAsync(into, cancellationToken);

    private void Arm(ReadTimeouts timeouts, TimeSpan waited)
    {
        _armed = timeouts.NextWait(waited, out _idleArmed);
        if (_armed != Timeout.InfiniteTimeSpan)
        {
            _timeoutCts.CancelAfter(_armed);
            _timerSet = true;
        }
        else if (_timerSet)
        {
            _timeoutCts.CancelAfter(Timeout.InfiniteTimeSpan);
        }
    }

    private CancellationToken ReceiveToken => _timerSet ? _timeoutCts.Token : default;

    // A receive that failed once the timer fired is the timeout: canceled by its token, or (the read-ahead, which has
    // none) by the socket aborted under it.
    private UpstreamException ReceiveFailed(Exception ex, UpstreamPhase phase) =>
        ex is OperationCanceledException or SocketException or ObjectDisposedException && _timeoutCts.IsCancellationRequested
            ? new UpstreamException(phase, UpstreamErrorKind.Timeout, _idleArmed
                ? $"no byte from the backend for readIdleTimeout {_armed.TotalMilliseconds:0}ms"
                : $"no response data within responseTimeout {_armed.TotalMilliseconds:0}ms")
            { ResponseBytesReceived = ResponseBytesReceived, ReadIdle = _idleArmed }
            : Wrap(ex, phase);

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
}
