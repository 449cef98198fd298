using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tether.FunctionalTests.Infrastructure;

/// <summary>A request as the origin received it from Tether.</summary>
internal sealed class OriginRequest(int connectionIndex, int indexOnConnection, HttpHead head, BodyRead body)
{
    /// <summary>Which accepted connection it came on, from 1.</summary>
    public int ConnectionIndex { get; } = connectionIndex;

    /// <summary>Its place on that connection, from 1.</summary>
    public int IndexOnConnection { get; } = indexOnConnection;

    public HttpHead Head { get; } = head;

    public string Method => Head.StartLine.Split(' ')[0];

    public string Target => Head.StartLine.Split(' ')[1];

    public byte[] Body { get; } = body.Bytes;

    public bool BodyComplete { get; } = body.Complete;
}

/// <summary>
/// A raw-socket HTTP/1.1 origin on 127.0.0.1:0 driven by a per-connection script: the misbehaving backend the
/// tests need is a few lines of script, not a mock. Counts accepted connections and requests per connection.
/// </summary>
internal sealed class RawOrigin : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<OriginConnection, Task> _script;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentQueue<OriginConnection> _connections = new();
    private readonly ConcurrentQueue<Task> _scripts = new();
    private readonly ConcurrentQueue<OriginRequest> _requests = new();
    private readonly ConcurrentQueue<Exception> _scriptErrors = new();
    private readonly Task _acceptLoop;
    private int _accepted;

    private RawOrigin(Func<OriginConnection, Task> script, IPEndPoint? bind = null)
    {
        _script = script;
        _listener = new TcpListener(bind ?? new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Start(backlog: 512);
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = AcceptLoopAsync();
    }

    public int Port { get; }

    /// <summary>"127.0.0.1:PORT", as a destination in a cluster.</summary>
    public string Address => $"127.0.0.1:{Port}";

    /// <summary>Connections accepted so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    public IReadOnlyList<OriginConnection> Connections => [.. _connections.OrderBy(c => c.Index)];

    /// <summary>Every request read by any connection, in arrival order.</summary>
    public IReadOnlyList<OriginRequest> Requests => [.. _requests];

    /// <summary>Exceptions a script threw other than the socket errors a misbehaving peer produces.</summary>
    public IReadOnlyList<Exception> ScriptErrors => [.. _scriptErrors];

    internal CancellationToken Stopping => _stopping.Token;

    /// <summary>An origin that runs <paramref name="script"/> for each accepted connection, then closes it.</summary>
    public static RawOrigin Start(Func<OriginConnection, Task> script) => new(script);

    /// <summary>
    /// A keep-alive origin: reads requests until the peer closes (or, with <paramref name="idleTimeout"/>, until
    /// no request has started for that long after the last response, then closes) and answers each with
    /// <paramref name="respond"/>.
    /// </summary>
    public static RawOrigin Serve(Func<OriginRequest, OriginConnection, Task> respond, TimeSpan? idleTimeout = null) =>
        new(async connection =>
        {
            while (await connection.ReadRequestAsync(idleTimeout) is { } request)
            {
                await respond(request, connection);
            }
        });

    /// <summary>A keep-alive origin answering every request 200 with a body naming the connection and request: "c1 r1".</summary>
    public static RawOrigin Ok(TimeSpan? idleTimeout = null) =>
        Serve((request, connection) => connection.RespondAsync(200, $"c{request.ConnectionIndex} r{request.IndexOnConnection}"), idleTimeout);

    /// <summary>As <see cref="Ok"/>, listening on <paramref name="bind"/> (another loopback address, a given port).</summary>
    public static RawOrigin OkAt(IPEndPoint bind) =>
        new(async connection =>
        {
            while (await connection.ReadRequestAsync() is { } request)
            {
                await connection.RespondAsync(200, $"c{request.ConnectionIndex} r{request.IndexOnConnection}");
            }
        }, bind);

    /// <summary>Requests per accepted connection, in accept order.</summary>
    public int[] RequestsPerConnection() => [.. Connections.Select(c => c.RequestCount)];

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Stop();
        foreach (var connection in _connections)
        {
            connection.Socket.Dispose();
        }

        try
        {
            await Task.WhenAll([_acceptLoop, .. _scripts]).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException or SocketException or ObjectDisposedException)
        {
        }

        _stopping.Dispose();
    }

    internal void OnRequest(OriginRequest request) => _requests.Enqueue(request);

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stopping.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            socket.NoDelay = true;
            var connection = new OriginConnection(this, Interlocked.Increment(ref _accepted), socket);
            _connections.Enqueue(connection);
            _scripts.Enqueue(Task.Run(() => RunScriptAsync(connection)));
        }
    }

    private async Task RunScriptAsync(OriginConnection connection)
    {
        try
        {
            await _script(connection);
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // A peer that resets or a test that ends mid-script: what misbehaviour tests are made of.
        }
        catch (Exception ex)
        {
            _scriptErrors.Enqueue(ex);
        }
        finally
        {
            connection.Close();
        }
    }
}

/// <summary>One accepted connection, as a script sees it.</summary>
internal sealed class OriginConnection
{
    private static readonly TimeSpan s_readTimeout = TimeSpan.FromSeconds(30);
    private readonly RawOrigin _origin;
    private readonly TaskCompletionSource _closedByPeer = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _requestCount;

    internal OriginConnection(RawOrigin origin, int index, Socket socket)
    {
        _origin = origin;
        Index = index;
        Socket = socket;
        Reader = new SocketReader(socket);
    }

    /// <summary>Accept order, from 1.</summary>
    public int Index { get; }

    public Socket Socket { get; }

    public SocketReader Reader { get; }

    /// <summary>Fires when the origin is disposed: a script's reads and writes end with it.</summary>
    internal CancellationToken Stopping => _origin.Stopping;

    public int RequestCount => Volatile.Read(ref _requestCount);

    /// <summary>Set when <see cref="ReadRequestAsync"/> gave up because no request started within its idle timeout.</summary>
    public bool IdledOut { get; private set; }

    /// <summary>
    /// The next request, body included (Content-Length or chunked). Null if the peer closed first or, with
    /// <paramref name="idleTimeout"/>, if no byte of a request arrived within it (<see cref="IdledOut"/>).
    /// </summary>
    public async Task<OriginRequest?> ReadRequestAsync(TimeSpan? idleTimeout = null)
    {
        if (idleTimeout is { } idle)
        {
            using var idleCts = CancellationTokenSource.CreateLinkedTokenSource(_origin.Stopping);
            idleCts.CancelAfter(idle);
            try
            {
                if (!await Reader.WaitForDataAsync(idleCts.Token))
                {
                    _closedByPeer.TrySetResult();
                    return null;
                }
            }
            catch (OperationCanceledException) when (!_origin.Stopping.IsCancellationRequested)
            {
                IdledOut = true;
                return null;
            }
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_origin.Stopping);
        cts.CancelAfter(s_readTimeout);
        var text = await Reader.ReadHeadAsync(cts.Token);
        if (text is null)
        {
            _closedByPeer.TrySetResult();
            return null;
        }

        var head = HttpHead.Parse(text);
        BodyRead body;
        if (head.HasToken("Transfer-Encoding", "chunked"))
        {
            body = await Reader.ReadChunkedAsync(cts.Token);
        }
        else if (head.Get("Content-Length") is { } length)
        {
            body = await Reader.ReadExactAsync(long.Parse(length, System.Globalization.CultureInfo.InvariantCulture), cts.Token);
        }
        else
        {
            body = new BodyRead([], true);
        }

        var request = new OriginRequest(Index, Interlocked.Increment(ref _requestCount), head, body);
        _origin.OnRequest(request);
        return request;
    }

    /// <summary>Reads only a request head (the body, if any, stays unread).</summary>
    public async Task<HttpHead?> ReadHeadOnlyAsync()
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_origin.Stopping);
        cts.CancelAfter(s_readTimeout);
        var text = await Reader.ReadHeadAsync(cts.Token);
        if (text is null)
        {
            return null;
        }

        Interlocked.Increment(ref _requestCount);
        return HttpHead.Parse(text);
    }

    public Task WriteAsync(string latin1) => WriteAsync(Encoding.Latin1.GetBytes(latin1));

    public async Task WriteAsync(ReadOnlyMemory<byte> bytes)
    {
        var sent = 0;
        while (sent < bytes.Length)
        {
            sent += await Socket.SendAsync(bytes[sent..], SocketFlags.None, _origin.Stopping);
        }
    }

    /// <summary>A complete response with a Content-Length body, plus <paramref name="headers"/> ("Name: value").</summary>
    public Task RespondAsync(int status, string body, params string[] headers)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var head = new StringBuilder().Append("HTTP/1.1 ").Append(status).Append(' ').Append(Reason(status)).Append("\r\n");
        foreach (var header in headers)
        {
            head.Append(header).Append("\r\n");
        }

        head.Append("Content-Length: ").Append(bytes.Length).Append("\r\n\r\n");
        byte[] response = [.. Encoding.Latin1.GetBytes(head.ToString()), .. bytes];
        return WriteAsync(response);
    }

    /// <summary>
    /// For a script: reads until the peer (Tether) closes or resets this connection and returns true, or false if
    /// it is still open after <paramref name="timeout"/>.
    /// </summary>
    public async Task<bool> WaitForPeerCloseAsync(TimeSpan timeout)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_origin.Stopping);
        cts.CancelAfter(timeout);
        try
        {
            await Reader.DrainToEndAsync(cts.Token);
            _closedByPeer.TrySetResult();
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>
    /// For a test, while the script reads: whether the script saw Tether close this connection within
    /// <paramref name="timeout"/> (end of stream where a request or the close could come).
    /// </summary>
    public async Task<bool> ClosedByTetherAsync(TimeSpan timeout)
    {
        try
        {
            await _closedByPeer.Task.WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Graceful close: FIN.</summary>
    public void Close()
    {
        try
        {
            Socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        Socket.Dispose();
    }

    /// <summary>Abortive close: RST.</summary>
    public void Reset()
    {
        try
        {
            Socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        Socket.Dispose();
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        204 => "No Content",
        304 => "Not Modified",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    };
}
