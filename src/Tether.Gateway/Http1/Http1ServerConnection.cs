using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Tether.Gateway.Listeners;
using Tether.Gateway.Protection;

namespace Tether.Gateway.Http1;

/// <summary>
/// One client connection of the "tether" engine. While idle it holds its socket, one pending zero-byte receive
/// and its timer: no buffer, no pipe, no context. When bytes arrive it rents a buffer, parses the head
/// (<see cref="Http1RequestParser"/>), runs the request through the gateway's request delegate on a
/// <see cref="DefaultHttpContext"/> whose features are this object, writes the response
/// (<see cref="Http1ResponseWriter"/>), answers pipelined requests from the same buffer in order, and returns
/// the buffer before it goes idle again.
/// </summary>
internal sealed partial class Http1ServerConnection :
    IHttpRequestFeature, IHttpResponseFeature, IHttpResponseBodyFeature, IHttpConnectionFeature,
    IHttpRequestLifetimeFeature, IHttpRequestBodyDetectionFeature, IHttpUpgradeFeature, IHttpMaxRequestBodySizeFeature
{
    private static readonly byte[] _continue = "HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray();
    private static readonly byte[] _requestTimeout = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray();

    private readonly Socket _socket;
    private readonly Http1Engine _engine;
    private readonly ITimer _timer;
    private readonly DownstreamConnection _downstream;
    private readonly ClientConnectionFeature _client;
    private readonly IPEndPoint? _remote;
    private readonly IPEndPoint? _local;
    private readonly Http1Limits _limits;
    private readonly Http1ResponseWriter _writer;
    private readonly ProxyProtocol.ProxyProtocolFeature? _proxy;

    // IHttpUpgradeFeature: the 101 went out; the connection is a tunnel until the request delegate returns, then closes.
    private bool _upgraded;

    // IHttpMaxRequestBodySizeFeature (nginx client_max_body_size per route): null = no limit; read-only once the body is read.
    private long? _maxRequestBodySize;
    private long _bodyRead;

    // Invariant: null while idle; while a request is read or served, [_inStart, _inEnd) are bytes received and not yet consumed.
    private byte[]? _in;
    private int _inStart;
    private int _inEnd;

    // Why the timer fired (a TimeoutReason), read after the receive it cut short fails.
    private volatile int _timedOut;
    private int _requests;
    private bool _reading;
    private CancellationTokenSource? _aborted;
    private volatile bool _abortRequested;
    private List<(Func<object, Task> Callback, object State)>? _onStarting;
    private List<(Func<object, Task> Callback, object State)>? _onCompleted;
    private Stream? _requestBody;
    private Stream? _responseStream;
    private long _bodyRemaining;
    private ChunkState _chunkState;
    private int _trailerBytes;
    private bool _continueSent;
    private bool _bodyStarted;
    private string? _connectionId;

    // The close watch of the last bodiless request, while it is pending or not yet awaited by the idle wait.
    private ValueTask<bool>? _watch;

    // Borrowed from the engine's pool while a request is in hand (Http1RequestState); null while idle.
    private Http1RequestState? _state;

    // The peek's destination: its byte is never read, so one array serves every connection.
    private static readonly byte[] _peek = new byte[1];

    /// <param name="preface">What the PROXY protocol read first (null without it): the client it names.</param>
    public Http1ServerConnection(Socket socket, Http1Engine engine, Http1Preface? preface = null)
    {
        _socket = socket;
        _engine = engine;
        _limits = engine.Limits;
        _writer = new Http1ResponseWriter(this);
        _remote = preface?.Source ?? socket.RemoteEndPoint as IPEndPoint;
        _local = socket.LocalEndPoint as IPEndPoint;
        _proxy = preface?.Feature;
        var client = _remote is null ? null : ClientAddress.Normalize(_remote.Address);
        Client = client;
        _client = new ClientConnectionFeature(client, engine.TrustedProxies.Contains(client));
        _downstream = new DownstreamConnection(engine.TimeProvider.GetTimestamp());
        _timer = engine.TimeProvider.CreateTimer(static s => ((Http1ServerConnection)s!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    private enum TimeoutReason
    {
        None,
        KeepAlive,
        RequestHeaders,
        Lingering,
        Drain,
        ReadDataRate,
        WriteDataRate,
    }

    private enum ChunkState
    {
        Size,
        Data,
        DataEnd,
        Trailers,
        Done,
    }

    public IPAddress? Client { get; }

    public Http1RequestHead Head { get; } = new();

    public IHeaderDictionary ResponseHeaders { get; private set; } = Http1RequestState.None;

    public bool ClosingAfterResponse => _engine.IsStopping;

    /// <summary>Idle: no request in hand (a drain closes such a connection at once).</summary>
    public bool IsIdle
    {
        get => _idle;
        private set => _idle = value;
    }

    private volatile bool _idle = true;

    // IHttpRequestFeature
    public string Protocol { get; set; } = "";

    public string Scheme { get; set; } = "http";

    public string Method { get; set; } = "";

    public string PathBase { get; set; } = "";

    public string Path { get; set; } = "";

    public string QueryString { get; set; } = "";

    public string RawTarget { get; set; } = "";

    IHeaderDictionary IHttpRequestFeature.Headers { get; set; } = Http1RequestState.None;

    Stream IHttpRequestFeature.Body
    {
        get => _requestBody ??= Head.HasBody ? new Http1RequestBody(this) : Stream.Null;
        set => _requestBody = value;
    }

    // IHttpResponseFeature
    public int StatusCode { get; set; } = 200;

    public string? ReasonPhrase { get; set; }

    IHeaderDictionary IHttpResponseFeature.Headers
    {
        get => ResponseHeaders;
        set => ResponseHeaders = value;
    }

    Stream IHttpResponseFeature.Body
    {
        get => Stream;
        set => throw new NotSupportedException("the response body stream cannot be replaced; set IHttpResponseBodyFeature");
    }

    public bool HasStarted => _writer.HasStarted;

    // IHttpResponseBodyFeature
    public Stream Stream => _responseStream ??= _writer.AsStream(leaveOpen: true);

    public PipeWriter Writer => _writer;

    // IHttpConnectionFeature
    public string ConnectionId
    {
        get => _connectionId ??= _engine.NextConnectionId();
        set => _connectionId = value;
    }

    public IPAddress? RemoteIpAddress { get => _remote?.Address; set => throw new NotSupportedException(); }

    public IPAddress? LocalIpAddress { get => _local?.Address; set => throw new NotSupportedException(); }

    public int RemotePort { get => _remote?.Port ?? 0; set => throw new NotSupportedException(); }

    public int LocalPort { get => _local?.Port ?? 0; set => throw new NotSupportedException(); }

    // IHttpRequestLifetimeFeature
    public CancellationToken RequestAborted
    {
        get
        {
            // Under the connection's lock: Abort, from the close watch or the timer, may run at the same time.
            lock (this)
            {
                return _abortRequested ? new CancellationToken(canceled: true) : (_aborted ??= _engine.AbortSources.Get()).Token;
            }
        }

        set => throw new NotSupportedException();
    }

    // IHttpRequestBodyDetectionFeature
    public bool CanHaveBody => Head.HasBody;

    // IHttpUpgradeFeature (as Kestrel's: HTTP/1.1, "Connection: upgrade", an Upgrade header, no body)
    public bool IsUpgradableRequest => Head.ConnectionUpgrade;

    // IHttpMaxRequestBodySizeFeature
    public bool IsReadOnly => _bodyStarted || _upgraded;

    public long? MaxRequestBodySize
    {
        get => _maxRequestBodySize;
        set
        {
            if (IsReadOnly)
            {
                throw new InvalidOperationException("the request body is being read; its size limit can no longer change");
            }

            _maxRequestBodySize = value;
        }
    }

    /// <summary>
    /// Kestrel's UpgradeAsync: the 101 with "Connection: Upgrade" and the headers set so far goes out now, and the
    /// connection's bytes are the returned stream's (the bytes already read past the head first). Data rates no longer
    /// apply, as on Kestrel; the connection closes once the request delegate returns.
    /// </summary>
    public async Task<Stream> UpgradeAsync()
    {
        if (!IsUpgradableRequest)
        {
            throw new InvalidOperationException("the request cannot be upgraded (no \"Connection: upgrade\" with an Upgrade header)");
        }

        if (_writer.HasStarted)
        {
            throw new InvalidOperationException("the response has already started; it cannot be a 101 any more");
        }

        StatusCode = StatusCodes.Status101SwitchingProtocols;
        ReasonPhrase = "Switching Protocols";
        _upgraded = true;
        _readRate = null;
        _writeRate = null;
        _writer.Start();
        await _writer.FlushAsync().ConfigureAwait(false);
        return new Http1UpgradedStream(this);
    }

    public bool IsUpgraded => _upgraded;

    /// <summary>A read of the upgraded connection: bytes already received first, then the socket.</summary>
    internal ValueTask<int> ReadUpgradedAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (_inEnd > _inStart && _in is { } buffered)
        {
            var n = Math.Min(destination.Length, _inEnd - _inStart);
            buffered.AsSpan(_inStart, n).CopyTo(destination.Span);
            _inStart += n;
            return ValueTask.FromResult(n);
        }

        return _socket.ReceiveAsync(destination, SocketFlags.None, cancellationToken);
    }

    internal ValueTask<int> WriteUpgradedAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken) =>
        _socket.SendAsync(source, SocketFlags.None, cancellationToken);

    public void OnStarting(Func<object, Task> callback, object state) => (_onStarting ??= []).Add((callback, state));

    public void OnCompleted(Func<object, Task> callback, object state) => (_onCompleted ??= []).Add((callback, state));

    public void DisableBuffering()
    {
    }

    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        _writer.Start();
        return _writer.FlushAsync(cancellationToken).AsTask();
    }

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        SendFileFallback.SendFileAsync(Stream, path, offset, count, cancellationToken);

    public Task CompleteAsync() => _writer.CompleteAsync().AsTask();

    /// <summary>Closes the connection now: the request in flight sees RequestAborted.</summary>
    public void Abort()
    {
        CancellationTokenSource? aborted;
        lock (this)
        {
            _abortRequested = true;
            aborted = _aborted;
            _aborted = null;
        }

        try
        {
            // Canceled, so never back to the pool: it is dropped with the connection.
            aborted?.Cancel();
        }
        catch (Exception ex) when (ex is AggregateException or ObjectDisposedException)
        {
            // A callback failed, or the connection has already ended (a late close watch).
        }

        _socket.Dispose();
    }

    /// <summary>A drain: an idle connection is closed at once, a busy one after its response (Connection: close).</summary>
    public void CloseIfIdle()
    {
        if (IsIdle)
        {
            _timedOut = (int)TimeoutReason.Drain;
            Shutdown();
        }
    }

    internal void FireOnStarting()
    {
        if (_onStarting is { } callbacks)
        {
            _onStarting = null;
            for (var i = callbacks.Count - 1; i >= 0; i--)
            {
                callbacks[i].Callback(callbacks[i].State).GetAwaiter().GetResult();
            }
        }
    }


    /// <summary>
    /// Serves the connection until it closes, then gives back its slots and count to the engine
    /// (<paramref name="capped"/>: the client whose per-client slot it holds, if any).
    /// </summary>
    public async Task RunAsync(IPAddress? capped)
    {
        var statistics = _engine.Statistics;
        try
        {
            while (true)
            {
                if (_inEnd == _inStart)
                {
                    // Idle: no bytes in hand. Waits for the next request with nothing but the zero-byte receive.
                    ReturnBuffer();
                    ReturnState();
                    ReturnAbortSource();
                    IsIdle = true;
                    if (_engine.IsStopping)
                    {
                        return;
                    }

                    Arm(TimeoutReason.KeepAlive, _engine.Downstream.KeepAliveTimeout);
                    if (_watch is { } watch)
                    {
                        _watch = null;
                        if (!await watch.ConfigureAwait(false))
                        {
                            return;
                        }
                    }
                    else
                    {
                        await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).ConfigureAwait(false);
                    }

                    IsIdle = false;
                    if (_timedOut != 0)
                    {
                        return;
                    }
                }

                IsIdle = false;
                _in ??= ArrayPool<byte>.Shared.Rent(4096);
                Arm(TimeoutReason.RequestHeaders, _engine.Downstream.RequestHeadersTimeout);
                _reading = true;
                statistics.OnReadingStarted();
                int consumed;
                var state = _state ??= _engine.RequestStates.Get();
                Head.Strings = state.Strings;
                var requestHeaders = state.RequestHeaders; // emptied by the parser, head by head
                try
                {
                    while (true)
                    {
                        if (_inEnd > _inStart
                            && Http1RequestParser.TryParse(_in.AsSpan(_inStart, _inEnd - _inStart), _limits, Head, requestHeaders, out consumed))
                        {
                            break;
                        }

                        if (!await ReceiveAsync().ConfigureAwait(false))
                        {
                            // Closed by the client, or cut by the timer (a slow head: Slowloris).
                            if (_timedOut == (int)TimeoutReason.RequestHeaders)
                            {
                                // As Kestrel: 408 and the connection closed (nginx closes without a response).
                                _engine.Closed.Increment(ProtectionCloseReason.SlowHeaders);
                                await SendAsync(_requestTimeout).ConfigureAwait(false);
                            }

                            return;
                        }
                    }
                }
                finally
                {
                    _reading = false;
                    statistics.OnReadingEnded();
                }

                Disarm();
                if (Head.ErrorStatus != 0)
                {
                    Log.Refused(_engine.Logger, Client, Head.ErrorStatus, Head.ErrorReason!);
                    LogRefused(Head.ErrorStatus);
                    await RefuseAsync(Head.ErrorStatus, Head.ErrorReason!).ConfigureAwait(false);
                    return;
                }

                _inStart += consumed;
                // Not for an upgrade: once it is a tunnel, the client's bytes and its half-close are the tunnel's.
                if (!Head.HasBody && !Head.ConnectionUpgrade && _inEnd == _inStart && _watch is null)
                {
                    // Nothing of this request is left to read: watch for the client leaving while it is served.
                    _watch = WatchForCloseAsync();
                }

                if (!await ServeAsync(state).ConfigureAwait(false))
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException or OperationCanceledException)
        {
            // The client went away, or the timer or a drain closed the socket.
        }
        finally
        {
            if (_reading)
            {
                statistics.OnReadingEnded();
            }

            _timer.Dispose();

            // FIN first: it ends a pending receive (the close watch), so the close that follows is not abortive.
            Shutdown();
            _socket.Dispose();
            ReturnBuffer();
            ReturnState();
            ReturnAbortSource();
            _engine.Ended(this, capped);
        }
    }

    // One request: returns whether the connection carries another.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ServeAsync(Http1RequestState state)
    {
        var head = Head;
        _requests++;
        Protocol = head.VersionMinor == 1 ? HttpProtocol.Http11 : HttpProtocol.Http10;
        Method = head.Method;
        Path = head.Path;
        QueryString = head.Query;
        RawTarget = head.RawTarget;
        ((IHttpRequestFeature)this).Headers = state.RequestHeaders;
        state.ResponseHeaders.Clear();
        ResponseHeaders = state.ResponseHeaders;
        StatusCode = 200;
        ReasonPhrase = null;
        _requestBody = null;
        _responseStream = null;
        _writer.Reset();
        _bodyRemaining = head.ContentLength > 0 ? head.ContentLength : 0;
        _chunkState = head.Chunked ? ChunkState.Size : ChunkState.Done;
        _trailerBytes = 0;
        _continueSent = false;
        _bodyStarted = false;
        _maxRequestBodySize = null;
        _bodyRead = 0;
        StartRates(_engine.Downstream);
        lock (this)
        {
            // A pipelined request after another: the source it asked for is readied for this one.
            if (_aborted is { } aborted && !aborted.TryReset())
            {
                aborted.Dispose();
                _aborted = null;
            }
        }

        // The features are this connection's and its connection-scoped ones; what the request sets beside them goes
        // when it ends (the rebind empties it and moves the revision, so the reused context caches nothing old).
        state.Features.Bind(this, _proxy, _downstream, _client);
        var context = state.StartRequest();
        try
        {
            await _engine.Handler(context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.RequestFailed(_engine.Logger, ex);
            if (!_writer.HasStarted)
            {
                ResponseHeaders.Clear();
                StatusCode = ex is BadHttpRequestException bad ? bad.StatusCode : 500;
                ResponseHeaders.ContentLength = 0;
                ResponseHeaders.Connection = "close";
            }
            else
            {
                Abort();
                return false;
            }
        }

        await _writer.CompleteAsync().ConfigureAwait(false);
        if (_onCompleted is { } completed)
        {
            _onCompleted = null;
            foreach (var (callback, callbackState) in completed)
            {
                await callback(callbackState).ConfigureAwait(false);
            }
        }

        if (_abortRequested || _upgraded)
        {
            // An upgraded connection was a tunnel: it ends with the request.
            return false;
        }

        if (_writer.MustClose || !head.KeepAlive)
        {
            // The client may still be sending a body nobody read: read it away so it gets the response.
            if (!BodyComplete)
            {
                await LingerAsync().ConfigureAwait(false);
            }

            return false;
        }

        // A body the application did not read is read and dropped, up to a bound, so the next request can follow.
        if (!BodyComplete && !await DrainBodyAsync().ConfigureAwait(false))
        {
            await LingerAsync().ConfigureAwait(false);
            return false;
        }

        return true;
    }

    // Kestrel's background read, in its smallest form: a 1-byte peek that completes when the client sends more
    // (a pipelined request, or the next one: left in the socket for the loop) or closes (end of stream: the
    // request in flight is aborted, so the forwarder closes its backend connection instead of waiting for an
    // answer nobody reads). It outlives the request: the idle wait awaits it instead of a zero-byte receive, so
    // an idle connection still holds one pending receive and no more. True when bytes are ready.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> WatchForCloseAsync()
    {
        try
        {
            if (await _socket.ReceiveAsync(_peek.AsMemory(), SocketFlags.Peek).ConfigureAwait(false) > 0)
            {
                return true;
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        Abort();
        return false;
    }

    private bool BodyComplete => Head.Chunked ? _chunkState == ChunkState.Done : _bodyRemaining == 0;

    private async ValueTask<bool> DrainBodyAsync()
    {
        var scratch = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            // Under the lingering timer, not the data rate: the application has finished with the request.
            _readRate = null;
            Arm(TimeoutReason.Lingering, _engine.Downstream.LingeringTimeout);
            long drained = 0;
            while (!BodyComplete && drained < 1024 * 1024)
            {
                var n = await ReadBodyAsync(scratch, CancellationToken.None).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                drained += n;
            }

            Disarm();
            return BodyComplete;
        }
        catch (Exception ex) when (ex is BadHttpRequestException or IOException or SocketException or ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    // A refused head: the status, Connection: close, then a lingering close.
    // The access-log line of a head the parser refused: what it had parsed of the request line ("-" where nothing).
    private void LogRefused(int status)
    {
        if (_engine.AccessLog is not { Enabled: true } accessLog)
        {
            return;
        }

        var entry = Observability.AccessLogEntry.Refused(System.Diagnostics.Stopwatch.GetTimestamp());
        entry.Client = Client?.ToString();
        entry.Method = Head.Method.Length > 0 ? Head.Method : "-";
        entry.Target = Head.RawTarget.Length > 0 ? Head.RawTarget : "-";
        entry.Protocol = Head.Method.Length > 0 ? (Head.VersionMinor == 0 ? "HTTP/1.0" : "HTTP/1.1") : "-";
        entry.Status = status;
        accessLog.Enqueue(entry);
    }

    private async ValueTask RefuseAsync(int status, string reason)
    {
        var body = System.Text.Encoding.ASCII.GetBytes($"{status} {Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status)}: {reason}\n");
        var response = System.Text.Encoding.ASCII.GetBytes(
            $"HTTP/1.1 {status} {Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status)}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        await SendAsync(response).ConfigureAwait(false);
        await SendAsync(body).ConfigureAwait(false);
        await LingerAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// nginx lingering_close: after the last response, the write side is shut and whatever the client still sends
    /// is read and dropped until it closes, is quiet for downstream.lingeringTimeout, or 30 s have passed
    /// (nginx lingering_time). Closing at once with unread bytes would make the kernel send a reset, and the
    /// client could lose the response it has not read yet.
    /// </summary>
    private async ValueTask LingerAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
            var buffer = _in ?? ArrayPool<byte>.Shared.Rent(4096);
            _in = buffer;
            var deadline = _engine.TimeProvider.GetTimestamp() + (long)(30 * _engine.TimeProvider.TimestampFrequency);
            while (_engine.TimeProvider.GetTimestamp() < deadline)
            {
                Arm(TimeoutReason.Lingering, _engine.Downstream.LingeringTimeout);
                var n = await _socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).ConfigureAwait(false);
                if (n == 0 || _timedOut != 0)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Reads more bytes into the input buffer (growing it up to the head limits); false at end of stream.</summary>
    private async ValueTask<bool> ReceiveAsync(bool body = false)
    {
        if (_inStart > 0)
        {
            _in.AsSpan(_inStart, _inEnd - _inStart).CopyTo(_in);
            _inEnd -= _inStart;
            _inStart = 0;
        }

        if (_inEnd == _in!.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(_in.Length * 2);
            _in.AsSpan(0, _inEnd).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_in);
            _in = bigger;
        }

        var n = body
            ? await ReceiveBodyAsync(_in.AsMemory(_inEnd), CancellationToken.None).ConfigureAwait(false)
            : await _socket.ReceiveAsync(_in.AsMemory(_inEnd), SocketFlags.None).ConfigureAwait(false);
        _inEnd += n;
        return n > 0 && _timedOut == 0;
    }

    // Idle or closed: the request objects go back to the engine's pool, and what reads the headers now reads none.
    private void ReturnState()
    {
        if (_state is { } state)
        {
            _state = null;
            Head.Strings = null;
            ResponseHeaders = Http1RequestState.None;
            ((IHttpRequestFeature)this).Headers = Http1RequestState.None;
            _engine.RequestStates.Return(state);
        }
    }

    // Idle or closed: RequestAborted's source goes back to the engine (reset there; one that cannot be is dropped).
    private void ReturnAbortSource()
    {
        CancellationTokenSource? aborted;
        lock (this)
        {
            aborted = _aborted;
            _aborted = null;
        }

        if (aborted is not null)
        {
            _engine.AbortSources.Return(aborted);
        }
    }

    private void ReturnBuffer()
    {
        if (_in is { } buffer)
        {
            _in = null;
            _inStart = _inEnd = 0;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // keepAliveTimeout, requestHeadersTimeout, lingeringTimeout: one timer per connection, re-armed per phase,
    // so each fires to the millisecond of its setting (no heartbeat).
    private void Arm(TimeoutReason reason, TimeSpan after)
    {
        // The deadline before the reason (a volatile write): a callback that sees this reason sees its deadline.
        Volatile.Write(ref _phaseDeadline, _engine.TimeProvider.GetTimestamp() + (long)(after.TotalSeconds * _engine.TimeProvider.TimestampFrequency));
        _armed = reason;
        _timer.Change(after, Timeout.InfiniteTimeSpan);
    }

    private void Disarm()
    {
        _armed = TimeoutReason.None;
        _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    private volatile TimeoutReason _armed;

    // When the armed phase ends (a TimeProvider timestamp): a callback of an earlier arming that runs late, after
    // the timer was re-armed for a later phase, must not end that phase early.
    private long _phaseDeadline;

    private void OnTimer()
    {
        var reason = _armed;
        if (reason == TimeoutReason.None)
        {
            OnRateTimer();
            return;
        }

        var left = _engine.TimeProvider.GetElapsedTime(_engine.TimeProvider.GetTimestamp(), Volatile.Read(ref _phaseDeadline));
        if (left > TimerSlack)
        {
            _timer.Change(left, Timeout.InfiniteTimeSpan);
            return;
        }

        _timedOut = (int)reason;
        if (reason == TimeoutReason.RequestHeaders)
        {
            // Only the read side: the pending receive ends, and the 408 can still be written.
            try
            {
                _socket.Shutdown(SocketShutdown.Receive);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }

            return;
        }

        Shutdown();
    }

    // Ends the pending receive with a FIN to the client. Disposing a socket with an operation pending would close
    // it abortively (a reset), and the client of an expired keep-alive connection would see an error, not a close.
    private void Shutdown()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>The request body, de-chunked: from the bytes in hand first, then from the socket.</summary>
    internal async ValueTask<int> ReadBodyAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (destination.IsEmpty || BodyComplete)
        {
            return 0;
        }

        if (!_bodyStarted)
        {
            _bodyStarted = true;
            if (_maxRequestBodySize is { } max && Head.ContentLength > max)
            {
                throw TooLarge(max);
            }

            if (Head.ExpectContinue && !_writer.HasStarted && !_continueSent && _inEnd == _inStart)
            {
                _continueSent = true;
                await SendAsync(_continue).ConfigureAwait(false);
            }
        }

        using var registration = cancellationToken.CanBeCanceled ? cancellationToken.UnsafeRegister(static s => ((Http1ServerConnection)s!).Abort(), this) : default;
        if (!Head.Chunked)
        {
            var want = (int)Math.Min(_bodyRemaining, destination.Length);
            int n;
            if (_inEnd > _inStart)
            {
                n = Math.Min(want, _inEnd - _inStart);
                _in.AsSpan(_inStart, n).CopyTo(destination.Span);
                _inStart += n;
            }
            else
            {
                // Straight into the caller's buffer, never past this body (the next request's bytes stay in the socket).
                n = await ReceiveBodyAsync(destination[..want], cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new BadHttpRequestException("the client closed the connection inside the request body", 400);
                }
            }

            _bodyRemaining -= n;
            return CountBody(n);
        }

        return CountBody(await ReadChunkedAsync(destination).ConfigureAwait(false));
    }

    // Kestrel's MaxRequestBodySize for a body of unknown length: the read that passes the limit fails (413), so the
    // bytes past it never reach the application.
    private int CountBody(int n)
    {
        _bodyRead += n;
        return _maxRequestBodySize is { } max && _bodyRead > max ? throw TooLarge(max) : n;
    }

    private static BadHttpRequestException TooLarge(long max) =>
        new($"Request body too large. The max request body size is {max} bytes.", StatusCodes.Status413PayloadTooLarge);

    private async ValueTask<int> ReadChunkedAsync(Memory<byte> destination)
    {
        while (true)
        {
            switch (_chunkState)
            {
                case ChunkState.Done:
                    return 0;
                case ChunkState.Size:
                case ChunkState.Trailers:
                {
                    var buffered = _in.AsSpan(_inStart, _inEnd - _inStart);
                    var nl = buffered.IndexOf((byte)'\n');
                    if (nl < 0)
                    {
                        if (buffered.Length > 4096)
                        {
                            throw new BadHttpRequestException("a chunk-size or trailer line longer than 4 KB", 400);
                        }

                        await FillAsync().ConfigureAwait(false);
                        continue;
                    }

                    if (nl == 0 || buffered[nl - 1] != '\r' || buffered[..(nl - 1)].Contains((byte)'\r'))
                    {
                        throw new BadHttpRequestException("a chunk line that does not end in CRLF", 400);
                    }

                    var line = buffered[..(nl - 1)];
                    _inStart += nl + 1;
                    if (_chunkState == ChunkState.Trailers)
                    {
                        _trailerBytes += nl + 1;
                        if (line.IsEmpty)
                        {
                            _chunkState = ChunkState.Done;
                            return 0;
                        }

                        if (_trailerBytes > _limits.MaxRequestHeadersSize)
                        {
                            throw new BadHttpRequestException("request trailers larger than downstream.maxRequestHeadersSize", 431);
                        }

                        continue;
                    }

                    _bodyRemaining = ParseChunkSize(line);
                    _chunkState = _bodyRemaining == 0 ? ChunkState.Trailers : ChunkState.Data;
                    continue;
                }

                case ChunkState.Data:
                {
                    if (_inEnd == _inStart)
                    {
                        await FillAsync().ConfigureAwait(false);
                    }

                    var n = (int)Math.Min(Math.Min(_bodyRemaining, destination.Length), _inEnd - _inStart);
                    _in.AsSpan(_inStart, n).CopyTo(destination.Span);
                    _inStart += n;
                    _bodyRemaining -= n;
                    if (_bodyRemaining == 0)
                    {
                        _chunkState = ChunkState.DataEnd;
                    }

                    return n;
                }

                case ChunkState.DataEnd:
                    if (_inEnd - _inStart < 2)
                    {
                        await FillAsync().ConfigureAwait(false);
                        continue;
                    }

                    if (_in![_inStart] != '\r' || _in[_inStart + 1] != '\n')
                    {
                        throw new BadHttpRequestException("chunk data not followed by CRLF", 400);
                    }

                    _inStart += 2;
                    _chunkState = ChunkState.Size;
                    continue;
            }
        }
    }

    // chunk-size = 1*HEXDIG, then optional extensions (ignored, as every server does); no whitespace before them.
    private static long ParseChunkSize(ReadOnlySpan<byte> line)
    {
        var semicolon = line.IndexOf((byte)';');
        var digits = semicolon < 0 ? line : line[..semicolon];
        if (digits.IsEmpty || digits.Length > 15 || digits.ContainsAnyExcept("0123456789abcdefABCDEF"u8))
        {
            throw new BadHttpRequestException("a chunk size that is not 1 to 15 hexadecimal digits", 400);
        }

        if (semicolon >= 0 && line[semicolon..].ContainsAnyInRange((byte)0, (byte)0x08))
        {
            throw new BadHttpRequestException("a control character in a chunk extension", 400);
        }

        return long.Parse(digits, System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture);
    }

    private async ValueTask FillAsync()
    {
        if (!await ReceiveAsync(body: true).ConfigureAwait(false))
        {
            throw new BadHttpRequestException("the client closed the connection inside the request body", 400);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2100, EventName = "Http1HeadRefused", Level = LogLevel.Debug,
            Message = "refused a request head from {Client} with {Status}: {Reason}")]
        public static partial void Refused(ILogger logger, IPAddress? client, int status, string reason);

        [LoggerMessage(EventId = 2101, EventName = "Http1RequestFailed", Level = LogLevel.Warning,
            Message = "the request delegate failed")]
        public static partial void RequestFailed(ILogger logger, Exception exception);
    }
}
