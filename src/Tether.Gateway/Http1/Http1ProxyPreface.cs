using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tether.Configuration;
using Tether.Gateway.Protection;
using Tether.Gateway.ProxyProtocol;

namespace Tether.Gateway.Http1;

/// <summary>
/// What came before the first HTTP byte of an engine connection: the PROXY header's verdict, and the bytes read
/// past it (the client's first request bytes), which the connection parses first.
/// </summary>
internal sealed class Http1Preface
{
    /// <summary>The client the header names (null: the socket's peer is the client).</summary>
    public IPEndPoint? Source { get; init; }

    public ProxyProtocolFeature? Feature { get; init; }

    /// <summary>A pooled buffer whose first <see cref="Length"/> bytes follow the header; the connection returns it.</summary>
    public byte[]? Buffer { get; init; }

    public int Length { get; init; }
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

        // A v2 header may be up to ProxyHeaderParser.MaxV2Bytes; whatever follows it in the same reads is kept.
        var buffer = ArrayPool<byte>.Shared.Rent(ProxyHeaderParser.MaxV2Bytes + 1024);
        var length = 0;
        var keep = false;
        try
        {
            using var timeout = new CancellationTokenSource(config.Timeout, timeProvider);
            while (true)
            {
                int n;
                try
                {
                    n = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // As on Kestrel listeners: in "optional" mode what was read goes on as plain HTTP.
                    if (config.Mode == ProxyProtocolMode.Optional)
                    {
                        keep = true;
                        return new Http1Preface { Buffer = buffer, Length = length };
                    }

                    return Reject(ProtectionCloseReason.ProxyProtocolMissing, peer,
                        $"no complete PROXY header within {Durations.Format(config.Timeout)} (proxyProtocol.timeout)");
                }

                length += n;
                var status = ProxyHeaderParser.TryParse(new ReadOnlySequence<byte>(buffer, 0, length), out var header, out var consumed, out var error);
                switch (status)
                {
                    case ProxyParseStatus.Parsed when !trusted:
                        return Reject(ProtectionCloseReason.ProxyProtocolUntrusted, peer, "a PROXY header from a peer not in proxyProtocol.trustedNetworks");
                    case ProxyParseStatus.Parsed:
                        buffer.AsSpan((int)consumed, length - (int)consumed).CopyTo(buffer);
                        keep = true;
                        return new Http1Preface
                        {
                            Source = header.Source,
                            Feature = new ProxyProtocolFeature(header, peer),
                            Buffer = buffer,
                            Length = length - (int)consumed,
                        };
                    case ProxyParseStatus.Invalid:
                        return Reject(ProtectionCloseReason.ProxyProtocolInvalid, peer, error);
                    case ProxyParseStatus.NotProxy when config.Mode == ProxyProtocolMode.Required:
                        return Reject(ProtectionCloseReason.ProxyProtocolMissing, peer, "the connection does not start with a PROXY header (proxyProtocol.mode is \"required\")");
                    case ProxyParseStatus.NotProxy:
                        keep = true;
                        return new Http1Preface { Buffer = buffer, Length = length };
                }

                if (n == 0)
                {
                    return length == 0 && config.Mode == ProxyProtocolMode.Optional
                        ? null
                        : Reject(ProtectionCloseReason.ProxyProtocolMissing, peer, "the peer closed the connection inside the PROXY header");
                }
            }
        }
        finally
        {
            if (!keep)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
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
