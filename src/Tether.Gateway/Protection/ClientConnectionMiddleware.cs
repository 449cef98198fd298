using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Tether.Gateway.Protection;

/// <summary>
/// After the PROXY protocol has named the real client: the per-client cap (downstream.maxConnectionsPerClient;
/// over it the new connection is closed at once and the client's other connections are untouched), and
/// whether the peer is a trusted proxy.
/// </summary>
internal sealed partial class ClientConnectionMiddleware(
    ConnectionDelegate next, ConnectionLimiter limiter, NetworkList trustedProxies, ConnectionCloseCounters closed, ILogger logger)
{
    public Task OnConnectionAsync(ConnectionContext connection)
    {
        var client = connection.RemoteEndPoint is IPEndPoint endPoint ? ClientAddress.Normalize(endPoint.Address) : null;
        connection.Features.Set(new ClientConnectionFeature(client, trustedProxies.Contains(client)));

        // Without a cap, the rest of the pipeline's task is this one's: no state machine held per open connection.
        return client is null || limiter.MaxConnectionsPerClient <= 0 ? next(connection) : OnCappedConnectionAsync(connection, client);
    }

    private Task OnCappedConnectionAsync(ConnectionContext connection, IPAddress client)
    {
        if (!limiter.TryAcquireClient(client))
        {
            closed.Increment(ProtectionCloseReason.PerClientLimit);
            Log.PerClientLimitReached(logger, client, limiter.MaxConnectionsPerClient);
            return Task.CompletedTask;
        }

        // Released when the pipeline returns or the socket closes (ConnectionRelease: Kestrel can abandon one).
        return ConnectionRelease.RunAsync(next, connection, () => limiter.ReleaseClient(client));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3002, EventName = "PerClientConnectionLimit", Level = LogLevel.Debug,
            Message = "connection from {Client} closed: it already has {Max} connections open (downstream.maxConnectionsPerClient)")]
        public static partial void PerClientLimitReached(ILogger logger, IPAddress client, int max);
    }
}
