using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tether.Configuration;
using Tether.Gateway.Protection;
using Tether.Gateway.ProxyProtocol;

namespace Tether.Gateway.Http1;

/// <summary>
/// What came before the first HTTP byte of an engine connection: the PROXY header's verdict. Nothing past the header
/// is read: the client's first bytes stay in the socket for whoever serves the connection (the engine, or Kestrel).
/// </summary>
internal sealed class Http1Preface
{
    /// <summary>The client the header names (null: the socket's peer is the client).</summary>
    public IPEndPoint? Source { get; init; }

    public ProxyProtocolFeature? Feature { get; init; }
}

/// <summary>
/// listeners[].proxyProtocol on the "tether" engine: the PROXY header (v1 or v2) read off the socket before anything
/// else, with the rules of <see cref="ProxyProtocolMiddleware"/> (Kestrel listeners): honoured only from a peer in
/// trustedNetworks; "required" closes an untrusted peer before a byte is read, and a connection without a header;
/// "optional" serves a connection that does not start with one as plain HTTP. One parser for both paths
/// (<see cref="ProxyHeaderParser"/>).
/// </summary>
internal sealed partial class Http1ProxyProtocol(ProxyProtocolConfig config, ConnectionCloseCounters closed, TimeProvider timeProvider, ILogger logger)
{
    private static readonly TimeSpan _longestPoll = TimeSpan.FromMilliseconds(16);
    private readonly NetworkList _trustedNetworks = new(config.TrustedNetworks);

    public ProxyProtocolMode Mode => config.Mode;

    /// <summary>The preface of <paramref name="socket"/>, or null when the connection is refused (counted and logged).</summary>
    public async Task<Http1Preface?> ReadAsync(Socket socket)
    {
        var peer = socket.RemoteEndPoint as IPEndPoint;
        var trusted = peer is not null && _trustedNetworks.Contains(peer.Address);
        if (!trusted && config.Mode == ProxyProtocolMode.Required)
        {
            return Reject(ProtectionCloseReason.ProxyProtocolUntrusted, peer, "peer is not in proxyProtocol.trustedNetworks");
        }

        // The header is peeked at and then exactly its bytes are consumed: what follows it stays in the socket, so an
        // h2c connection handed to Kestrel on "http1AndHttp2" reaches it from its preface, and the engine's own HTTP/1.1
        // reads start at the request line. One extra receive per connection, none per request.
        var buffer = ArrayPool<byte>.Shared.Rent(ProxyHeaderParser.MaxV2Bytes);
        try
        {
            using var timeout = new CancellationTokenSource(config.Timeout, timeProvider);
            var poll = TimeSpan.FromMilliseconds(1);
            var peeked = 0;
            while (true)
            {
                int n;
                try
                {
                    if (peeked == 0)
                    {
                        // Nothing yet: wait without holding a peek (a zero-byte receive completes when bytes arrive).
                        await socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, timeout.Token).ConfigureAwait(false);
                    }
                    else
                    {
                        // Part of a header is in hand: a peek would return at once, so peek again a little later (1, 2,
                        // 4 … 16 ms). Load balancers send the header in one write; this is the rare split case.
                        await Task.Delay(poll, timeProvider, timeout.Token).ConfigureAwait(false);
                        poll = poll < _longestPoll ? poll * 2 : _longestPoll;
                    }

                    n = await socket.ReceiveAsync(buffer.AsMemory(0, ProxyHeaderParser.MaxV2Bytes), SocketFlags.Peek, timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // As on Kestrel listeners: in "optional" mode what was sent goes on as plain HTTP (still unread).
                    if (config.Mode == ProxyProtocolMode.Optional)
                    {
                        return new Http1Preface();
                    }

                    return Reject(ProtectionCloseReason.ProxyProtocolMissing, peer,
                        $"no complete PROXY header within {Durations.Format(config.Timeout)} (proxyProtocol.timeout)");
                }

                if (n == 0)
                {
                    return peeked == 0 && config.Mode == ProxyProtocolMode.Optional
                        ? null
                        : Reject(ProtectionCloseReason.ProxyProtocolMissing, peer, "the peer closed the connection inside the PROXY header");
                }

                if (n == peeked)
                {
                    continue; // nothing new since the last peek
                }

                peeked = n;
                var status = ProxyHeaderParser.TryParse(new ReadOnlySequence<byte>(buffer, 0, n), out var header, out var consumed, out var error);
                switch (status)
                {
                    case ProxyParseStatus.Parsed when !trusted:
                        return Reject(ProtectionCloseReason.ProxyProtocolUntrusted, peer, "a PROXY header from a peer not in proxyProtocol.trustedNetworks");
                    case ProxyParseStatus.Parsed:
                        for (var taken = 0; taken < consumed;)
                        {
                            var got = await socket.ReceiveAsync(buffer.AsMemory(taken, (int)consumed - taken), SocketFlags.None).ConfigureAwait(false);
                            if (got == 0)
                            {
                                return Reject(ProtectionCloseReason.ProxyProtocolMissing, peer, "the peer closed the connection inside the PROXY header");
                            }

                            taken += got;
                        }

                        return new Http1Preface { Source = header.Source, Feature = new ProxyProtocolFeature(header, peer) };
                    case ProxyParseStatus.Invalid:
                        return Reject(ProtectionCloseReason.ProxyProtocolInvalid, peer, error);
                    case ProxyParseStatus.NotProxy when config.Mode == ProxyProtocolMode.Required:
                        return Reject(ProtectionCloseReason.ProxyProtocolMissing, peer, "the connection does not start with a PROXY header (proxyProtocol.mode is \"required\")");
                    case ProxyParseStatus.NotProxy:
                        return new Http1Preface();
                }

                if (n == ProxyHeaderParser.MaxV2Bytes)
                {
                    return Reject(ProtectionCloseReason.ProxyProtocolInvalid, peer, $"no complete PROXY header in {ProxyHeaderParser.MaxV2Bytes} bytes");
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private Http1Preface? Reject(ProtectionCloseReason reason, IPEndPoint? peer, string why)
    {
        closed.Increment(reason);
        Log.Rejected(logger, peer?.ToString(), reason, why);
        return null;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2103, EventName = "Http1ProxyProtocolRejected", Level = LogLevel.Debug,
            Message = "connection from {Peer} closed ({Reason}): {Why}")]
        public static partial void Rejected(ILogger logger, string? peer, ProtectionCloseReason reason, string why);
    }
}
