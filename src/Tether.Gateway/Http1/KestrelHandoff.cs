using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using Tether.Configuration;
using Tether.Gateway.Listeners;
using Tether.Gateway.Protection;

namespace Tether.Gateway.Http1;

/// <summary>
/// The Kestrel side of an engine "tether" listener that is not cleartext HTTP/1.1 only: the engine accepts every
/// connection and hands those it does not serve to a Kestrel server in the same process, through an endpoint of
/// its own (<see cref="HandoffEndPoint"/>, no port) whose transport is this factory. Kestrel gets the accepted
/// socket itself, wrapped by its own <see cref="SocketConnectionContextFactory"/>: no byte is copied, and the
/// endpoint's ListenOptions (protocols, TLS, connection middlewares, limits) apply as on a Kestrel listener.
/// </summary>
/// <remarks>
/// Two kinds of listener (<see cref="For"/>):
/// <list type="bullet">
/// <item>TLS, or cleartext "http2": every connection is Kestrel's (it does TLS, ALPN, HTTP/2 and HTTP/1.1 over TLS).
/// The engine hands the socket over at once and counts nothing: Kestrel's pipeline has the caps, the PROXY
/// header and the counters of a Kestrel listener, so each connection is counted once, there.</item>
/// <item>Cleartext "http1AndHttp2": the engine counts and caps the connection as its own, then peeks at the first
/// bytes (<see cref="H2cPrefacePeek"/>); a connection that opens with the HTTP/2 preface is handed over and the
/// engine holds its slots until Kestrel is done with it. That endpoint is HTTP/2 only, and its pipeline has no caps
/// or counters (<see cref="CountedByEngine"/>), only the state the request path reads and the frame guard.</item>
/// </list>
/// </remarks>
internal sealed class KestrelHandoff : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    // Bounded by what is queued between the engine's accept and Kestrel's: Kestrel's accept loop takes each connection
    // at once (it only queues the connection's work), so this holds a few sockets at most; a full queue refuses.
    private const int QueueCapacity = 1024;

    private readonly SocketConnectionFactoryOptions _socketOptions;
    private readonly ILoggerFactory _loggerFactory;
    private readonly TimeProvider _timeProvider;
    private Listener? _listener;

    private KestrelHandoff(string address, bool countedByEngine, bool inlineScheduling, ILoggerFactory loggerFactory, TimeProvider timeProvider)
    {
        EndPoint = new HandoffEndPoint(address);
        CountedByEngine = countedByEngine;
        _socketOptions = new SocketConnectionFactoryOptions { UnsafePreferInlineScheduling = inlineScheduling };
        _loggerFactory = loggerFactory;
        _timeProvider = timeProvider;
    }

    /// <summary>The endpoint the Kestrel server listens on (it binds nothing).</summary>
    public HandoffEndPoint EndPoint { get; }

    /// <summary>
    /// True on a cleartext "http1AndHttp2" listener: the engine counts and caps every connection, and hands Kestrel
    /// only those that open with the HTTP/2 preface. False: Kestrel gets every connection and counts it itself.
    /// </summary>
    public bool CountedByEngine { get; }

    /// <summary>The handoff an engine listener needs, or null for cleartext HTTP/1.1 (the engine serves it all).</summary>
    public static KestrelHandoff? For(ListenerConfig listener, bool inlineScheduling, ILoggerFactory loggerFactory, TimeProvider timeProvider)
    {
        if (listener.Tls is null && listener.Protocols == ListenerProtocols.Http1)
        {
            return null;
        }

        var countedByEngine = listener.Tls is null && listener.Protocols == ListenerProtocols.Http1AndHttp2;
        return new KestrelHandoff(listener.Address, countedByEngine, inlineScheduling, loggerFactory, timeProvider);
    }

    /// <summary>
    /// Gives Kestrel a connection it counts itself (<see cref="CountedByEngine"/> false). A connection Kestrel no longer
    /// takes (it is stopping, or its queue is full) is closed.
    /// </summary>
    public void HandOver(Socket socket)
    {
        socket.NoDelay = true;
        if (_listener?.TryQueue(new HandedOff(socket, null)) != true)
        {
            socket.Dispose();
        }
    }

    /// <summary>
    /// Gives Kestrel an h2c connection the engine has counted: completes when Kestrel is done with it (the engine
    /// releases the connection's slots and counts it closed then), at once if Kestrel did not take it (closed).
    /// </summary>
    /// <param name="preface">The PROXY header the engine read (null: none): the client it names becomes the connection's
    /// RemoteEndPoint, as ProxyProtocolMiddleware does on Kestrel listeners.</param>
    public Task ServeAsync(Socket socket, IPAddress? client, bool trustedProxy, Http1Preface? preface = null)
    {
        var connection = new HandedOff(socket, new ClientConnectionFeature(client, trustedProxy))
        {
            Downstream = new DownstreamConnection(_timeProvider.GetTimestamp()),
            Preface = preface,
        };
        if (_listener?.TryQueue(connection) != true)
        {
            socket.Dispose();
            return Task.CompletedTask;
        }

        return connection.Completion;
    }

    /// <summary>
    /// Gives the sockets Kestrel's own memory pools (its socket transport gets them the same way). The public
    /// options constructor leaves MemoryPool&lt;byte&gt;.Shared, whose unbounded MaxBufferSize Kestrel's HTTP/1.1
    /// response writer over TLS does not handle: a body write got an empty span (.NET 10.0.12). The setter is internal,
    /// hence reflection; without it the shared pool stays and HTTP/1.1 over TLS on the handoff fails loudly in tests.
    /// </summary>
    public KestrelHandoff WithMemoryPools(IMemoryPoolFactory<byte>? pools)
    {
        if (pools is not null)
        {
            typeof(SocketConnectionFactoryOptions)
                .GetProperty("MemoryPoolFactory", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic)?
                .SetValue(_socketOptions, pools);
        }

        return this;
    }

    public bool CanBind(EndPoint endpoint) => endpoint is HandoffEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint != EndPoint)
        {
            throw new InvalidOperationException($"the handoff of {EndPoint} cannot bind {endpoint}");
        }

        var listener = new Listener(this, new SocketConnectionContextFactory(_socketOptions, _loggerFactory.CreateLogger("Tether.Gateway.Http1.KestrelHandoff")));
        _listener = listener;
        return ValueTask.FromResult<IConnectionListener>(listener);
    }

    /// <summary>First in the pipeline of an endpoint whose connections the engine counted: signals the engine when Kestrel is done.</summary>
    public static Task OnCountedConnectionAsync(ConnectionDelegate next, ConnectionContext connection) =>
        connection.Features.Get<HandedOff>() is { } handedOff
            ? ConnectionRelease.RunAsync(next, connection, handedOff.Complete)
            : next(connection);

    /// <summary>The endpoint of a handoff: named after the listener's address, bound to nothing.</summary>
    internal sealed class HandoffEndPoint(string address) : EndPoint
    {
        public override string ToString() => "tether-engine:" + address;
    }

    /// <summary>A connection on its way to Kestrel, and what the engine counted of it (null: nothing).</summary>
    internal sealed class HandedOff(Socket socket, ClientConnectionFeature? client)
    {
        private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Socket Socket => socket;

        public ClientConnectionFeature? Client => client;

        public DownstreamConnection? Downstream { get; init; }

        public Http1Preface? Preface { get; init; }

        public Task Completion => _completion.Task;

        public void Complete() => _completion.TrySetResult();
    }

    private sealed class Listener(KestrelHandoff handoff, SocketConnectionContextFactory factory) : IConnectionListener
    {
        private readonly Channel<HandedOff> _queue = Channel.CreateBounded<HandedOff>(
            new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

        public EndPoint EndPoint => handoff.EndPoint;

        public bool TryQueue(HandedOff connection) => _queue.Writer.TryWrite(connection);

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                while (await _queue.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (_queue.Reader.TryRead(out var handedOff))
                    {
                        return Wrap(handedOff);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }

            // Unbound: Kestrel's accept loop ends on null.
            return null;
        }

        private ConnectionContext Wrap(HandedOff handedOff)
        {
            var connection = factory.Create(handedOff.Socket);
            if (handedOff.Client is { } client)
            {
                // What the engine's counting gave the connection, read by the request path as on a Kestrel listener.
                connection.Features.Set(client);
                connection.Features.Set(handedOff.Downstream);
                connection.Features.Set(handedOff);
            }

            if (handedOff.Preface is { } preface)
            {
                if (preface.Source is { } source)
                {
                    connection.RemoteEndPoint = source;
                }

                if (preface.Feature is { } proxy)
                {
                    connection.Features.Set(proxy);
                }
            }

            return connection;
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            // What the engine hands over from now on is closed by it (TryQueue fails); what is queued is closed here.
            _queue.Writer.TryComplete();
            while (_queue.Reader.TryRead(out var left))
            {
                left.Socket.Dispose();
                left.Complete();
            }

            return ValueTask.CompletedTask;
        }

        public async ValueTask DisposeAsync()
        {
            await UnbindAsync().ConfigureAwait(false);
            factory.Dispose();
        }
    }
}
