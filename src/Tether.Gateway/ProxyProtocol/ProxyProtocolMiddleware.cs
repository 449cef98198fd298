using System.Buffers;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Tether.Configuration;
using Tether.Gateway.Protection;

namespace Tether.Gateway.ProxyProtocol;

/// <summary>
/// Reads a PROXY protocol header (v1 or v2) before anything else on a listener's connection and makes the
/// client it names the connection's RemoteEndPoint, so per-client limits, logs, X-Forwarded-For and hashing
/// all see the real client. The bytes after the header stay in the transport pipe for TLS or HTTP.
/// </summary>
/// <remarks>
/// A header is honoured only from a peer in trustedNetworks; from anyone else it closes the connection (it
/// is an attempt to spoof an address). In "required" mode an untrusted peer is closed before a byte is
/// read. In "optional" mode a connection that does not start with a header goes on as plain HTTP.
/// </remarks>
internal sealed partial class ProxyProtocolMiddleware(
    ConnectionDelegate next, ProxyProtocolConfig config, NetworkList trustedNetworks, ConnectionCloseCounters closed, TimeProvider timeProvider, ILogger logger)
{
    public async Task OnConnectionAsync(ConnectionContext connection)
    {
        var peer = connection.RemoteEndPoint;
        var trusted = peer is IPEndPoint ip && trustedNetworks.Contains(ip.Address);
        if (!trusted && config.Mode == ProxyProtocolMode.Required)
        {
            Reject(ProtectionCloseReason.ProxyProtocolUntrusted, peer, "peer is not in proxyProtocol.trustedNetworks");
            return;
        }

        var (status, header, error) = await ReadHeaderAsync(connection.Transport.Input).ConfigureAwait(false);
        switch (status)
        {
            case ProxyParseStatus.Parsed when !trusted:
                Reject(ProtectionCloseReason.ProxyProtocolUntrusted, peer, "a PROXY header from a peer not in proxyProtocol.trustedNetworks");
                return;
            case ProxyParseStatus.Parsed:
                if (header.Source is { } source)
                {
                    connection.RemoteEndPoint = source;
                }

                connection.Features.Set(new ProxyProtocolFeature(header, peer));
                break;
            case ProxyParseStatus.Invalid:
                Reject(ProtectionCloseReason.ProxyProtocolInvalid, peer, error);
                return;
            case ProxyParseStatus.Incomplete:
                // Part of a header, then silence (or the peer went away) until the timeout.
                Reject(ProtectionCloseReason.ProxyProtocolMissing, peer, error);
                return;
            case ProxyParseStatus.NotProxy when config.Mode == ProxyProtocolMode.Required:
                Reject(ProtectionCloseReason.ProxyProtocolMissing, peer, "the connection does not start with a PROXY header (proxyProtocol.mode is \"required\")");
                return;
        }

        await next(connection).ConfigureAwait(false);
    }

    private async Task<(ProxyParseStatus Status, ProxyHeader Header, string Error)> ReadHeaderAsync(System.IO.Pipelines.PipeReader input)
    {
        using var timeout = new CancellationTokenSource(config.Timeout, timeProvider);
        while (true)
        {
            System.IO.Pipelines.ReadResult result;
            try
            {
                result = await input.ReadAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Nothing buffered is lost: what was read was given back with AdvanceTo(start, end).
                return (config.Mode == ProxyProtocolMode.Optional ? ProxyParseStatus.NotProxy : ProxyParseStatus.Incomplete,
                    default, $"no complete PROXY header within {Durations.Format(config.Timeout)} (proxyProtocol.timeout)");
            }

            var buffer = result.Buffer;
            var status = ProxyHeaderParser.TryParse(buffer, out var header, out var consumed, out var error);
            switch (status)
            {
                case ProxyParseStatus.Parsed:
                    input.AdvanceTo(buffer.GetPosition(consumed));
                    return (status, header, "");
                case ProxyParseStatus.NotProxy:
                    // Leave every byte unexamined, so the next reader (TLS or HTTP) sees them at once.
                    input.AdvanceTo(buffer.Start);
                    return (status, default, "");
                case ProxyParseStatus.Invalid:
                    input.AdvanceTo(buffer.Start, buffer.End);
                    return (status, default, error);
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return (buffer.IsEmpty && config.Mode == ProxyProtocolMode.Optional ? ProxyParseStatus.NotProxy : ProxyParseStatus.Incomplete,
                    default, "the peer closed the connection inside the PROXY header");
            }
        }
    }

    private void Reject(ProtectionCloseReason reason, EndPoint? peer, string why)
    {
        closed.Increment(reason);
        Log.Rejected(logger, peer?.ToString(), reason, why);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3010, EventName = "ProxyProtocolRejected", Level = LogLevel.Debug,
            Message = "connection from {Peer} closed ({Reason}): {Why}")]
        public static partial void Rejected(ILogger logger, string? peer, ProtectionCloseReason reason, string why);
    }
}
