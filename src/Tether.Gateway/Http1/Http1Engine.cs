using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.ObjectPool;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Tether.Configuration;
using Tether.Gateway.Listeners;
using Tether.Gateway.Protection;

namespace Tether.Gateway.Http1;

/// <summary>
/// listeners[].engine "tether": Tether's own accept loop and HTTP/1.1 server for one listener (no Kestrel in the
/// path). Chosen by the issue 15 spike (bench/floor.sh rows conn and sockets, docs/benchmarks.md): the least
/// state per idle connection is a socket with one pending zero-byte receive.
/// </summary>
internal sealed partial class Http1Engine : IAsyncDisposable
{
    private readonly ConcurrentDictionary<Http1ServerConnection, byte> _connections = new();
    private readonly ConnectionLimiter _limiter;
    private readonly TaskCompletionSource _allClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _address;
    private Socket? _listener;
    private Task? _accepting;
    private long _connectionIds;
    private volatile bool _stopping;
    private volatile DownstreamConfig _downstream;

    public Http1Engine(string address, DownstreamConfig downstream, Func<HttpContext, ValueTask> handler, DownstreamStatistics statistics, ConnectionLimiter limiter,
        NetworkList trustedProxies, TimeProvider timeProvider, ILogger logger)
    {
        _address = address;
        _downstream = downstream;
        _limiter = limiter;
        Handler = handler;
        Statistics = statistics;
        TrustedProxies = trustedProxies;
        TimeProvider = timeProvider;
        Logger = logger;
        Limits = new Http1Limits(downstream.MaxRequestLineSize, downstream.MaxRequestHeadersSize, downstream.MaxRequestHeaderCount);
    }

    /// <summary>The request delegate, as a ValueTask: awaited without a Task per request (ProxyHandler.HandleValueAsync).</summary>
    public Func<HttpContext, ValueTask> Handler { get; }

    /// <summary>The per-request objects its connections borrow while they have a request in hand.</summary>
    internal ObjectPool<Http1RequestState> RequestStates { get; } = Http1RequestState.CreatePool(1024);

    /// <summary>The event args its connections borrow for one send each.</summary>
    internal ObjectPool<Http1SocketSender> Senders { get; } = Http1Pools.Create(static () => new Http1SocketSender());

    /// <summary>
    /// The sources of RequestAborted: a connection takes one when a request first asks and gives it back when it
    /// goes idle, so idle connections hold none (one with its registration list is about 200 bytes).
    /// </summary>
    internal ObjectPool<CancellationTokenSource> AbortSources { get; } =
        Http1Pools.Create(static () => new CancellationTokenSource(), static source => source.TryReset());

    public DownstreamStatistics Statistics { get; }

    public ConnectionCloseCounters Closed => Statistics.Closed;

    public NetworkList TrustedProxies { get; }

    public TimeProvider TimeProvider { get; }

    public ILogger Logger { get; }

    /// <summary>The limits of new connections (a reload changes them for connections accepted after it).</summary>
    public Http1Limits Limits { get; private set; }

    public DownstreamConfig Downstream => _downstream;

    public bool IsStopping => _stopping;

    public Uri? Url { get; private set; }

    /// <summary>listeners[].proxyProtocol, when its mode is not "off": read before the per-client cap.</summary>
    public Http1ProxyProtocol? ProxyProtocol { get; init; }

    /// <summary>Where the lines of requests the parser refuses go (the others get theirs from the request pipeline).</summary>
    public Observability.AccessLog? AccessLog { get; init; }

    /// <summary>The listening socket once started, for <see cref="AcceptBacklog"/> before a stop.</summary>
    public Socket? ListenSocket => _listener;

    public string NextConnectionId() => "t" + Interlocked.Increment(ref _connectionIds).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public void ApplyLimits(DownstreamConfig downstream)
    {
        _downstream = downstream;
        Limits = new Http1Limits(downstream.MaxRequestLineSize, downstream.MaxRequestHeadersSize, downstream.MaxRequestHeaderCount);
    }

    public void Start()
    {
        var endPoint = Resolve(_address);
        var listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                listener.DualMode = true;
            }

            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(endPoint);
            listener.Listen(4096);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        _listener = listener;
        var bound = (IPEndPoint)listener.LocalEndPoint!;
        var host = bound.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{bound.Address}]" : bound.Address.ToString();
        Url = new Uri($"http://{host}:{bound.Port}");
        _accepting = AcceptLoopAsync(listener);
    }

    private static IPEndPoint Resolve(string address)
    {
        if (!AddressParser.TryParseHostPort(address, out var host, out var port, out var error))
        {
            throw new ArgumentException($"invalid listen address '{address}': {error}", nameof(address));
        }

        if (host is "*" or "")
        {
            return new IPEndPoint(IPAddress.IPv6Any, port);
        }

        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return new IPEndPoint(IPAddress.Loopback, port);
        }

        if (IPAddress.TryParse(host, out var ip))
        {
            return new IPEndPoint(ip, port);
        }

        var resolved = Dns.GetHostAddresses(host);
        return resolved.Length == 0
            ? throw new ArgumentException($"listen address '{address}': host '{host}' does not resolve", nameof(address))
            : new IPEndPoint(resolved[0], port);
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                if (_stopping)
                {
                    return;
                }

                // EMFILE and the like: wait a little rather than spin (nginx: accept_mutex_delay).
                Log.AcceptFailed(Logger, ex.Message);
                await Task.Delay(10).ConfigureAwait(false);
                continue;
            }

            _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        if (HandedOverUncounted(socket))
        {
            return;
        }

        Statistics.OnAccepted();
        if (_limiter.MaxConnections > 0 && !_limiter.TryAcquire())
        {
            Closed.Increment(ProtectionCloseReason.GlobalLimit);
            await RefuseAsync(socket).ConfigureAwait(false);
            return;
        }

        IPAddress? capped = null;
        var looping = false;
        try
        {
            socket.NoDelay = true;
            DownstreamConnectionMiddleware.SetSocketOptions(socket, _downstream);
            Http1Preface? preface = null;
            if (ProxyProtocol is { } proxy && (preface = await proxy.ReadAsync(socket).ConfigureAwait(false)) is null)
            {
                await RefuseAsync(socket).ConfigureAwait(false);
                return;
            }

            var connection = new Http1ServerConnection(socket, this, preface);
            if (_limiter.MaxConnectionsPerClient > 0 && connection.Client is { } client)
            {
                if (!_limiter.TryAcquireClient(client))
                {
                    Closed.Increment(ProtectionCloseReason.PerClientLimit);
                    await RefuseAsync(socket).ConfigureAwait(false);
                    return;
                }

                capped = client;
            }

            Statistics.OnHandled();
            _connections.TryAdd(connection, 0);
            try
            {
                if (await ServesHttp1Async(socket, connection, preface).ConfigureAwait(false))
                {
                    // From here the connection's own loop holds the slots and counts and gives them back (Ended), so
                    // an idle connection holds its loop's state and not this method's too.
                    looping = true;
                    _ = connection.RunAsync(capped);
                }
            }
            finally
            {
                if (!looping)
                {
                    Uncount(connection, capped);
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            socket.Dispose();
        }
        finally
        {
            // Whatever took the client's slot gave it back above (Uncount); the global slot is the loop's once it runs.
            if (!looping)
            {
                ReleaseGlobal();
            }
        }
    }

    /// <summary>The end of a connection's loop: its slots are free and it counts closed.</summary>
    internal void Ended(Http1ServerConnection connection, IPAddress? capped)
    {
        Uncount(connection, capped);
        ReleaseGlobal();
    }

    private void Uncount(Http1ServerConnection connection, IPAddress? capped)
    {
        _connections.TryRemove(connection, out _);

        // The client's slot is free before the connection counts closed: whoever sees Active drop can connect again.
        if (capped is not null)
        {
            _limiter.ReleaseClient(capped);
        }

        Statistics.OnClosed();
        if (_stopping && _connections.IsEmpty)
        {
            _allClosed.TrySetResult();
        }
    }

    private void ReleaseGlobal()
    {
        if (_limiter.MaxConnections > 0)
        {
            _limiter.Release();
        }
    }

    // A connection over a cap is closed at once, but with a FIN and a short lingering read rather than a reset, so a
    // client that already sent its request sees the connection end instead of an error (as on Kestrel listeners).
    private static async Task RefuseAsync(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
            using var linger = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            var scratch = new byte[512];
            while (await socket.ReceiveAsync(scratch, SocketFlags.None, linger.Token).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            socket.Dispose();
        }
    }

    /// <summary>
    /// Stops accepting, closes idle connections at once and busy ones after their response (Connection: close),
    /// and aborts what is left when <paramref name="cancellationToken"/> fires.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        _listener?.Dispose();
        if (_accepting is { } accepting)
        {
            await accepting.ConfigureAwait(false);
        }

        // A busy connection sees IsStopping after its response and closes itself (its response says Connection: close).
        foreach (var connection in _connections.Keys)
        {
            connection.CloseIfIdle();
        }

        if (_connections.IsEmpty)
        {
            _allClosed.TrySetResult();
        }

        using (cancellationToken.UnsafeRegister(static s => ((Http1Engine)s!).AbortAll(), this))
        {
            await _allClosed.Task.ConfigureAwait(false);
        }

        (Senders as IDisposable)?.Dispose();
        (AbortSources as IDisposable)?.Dispose();
    }

    private void AbortAll()
    {
        foreach (var connection in _connections.Keys)
        {
            connection.Abort();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync(new CancellationToken(canceled: true)).ConfigureAwait(false);

    private static partial class Log
    {
        [LoggerMessage(EventId = 2102, EventName = "Http1AcceptFailed", Level = LogLevel.Warning,
            Message = "accepting a client connection failed: {Reason}")]
        public static partial void AcceptFailed(ILogger logger, string reason);
    }
}
