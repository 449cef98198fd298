using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Tether.Gateway.Protection;

/// <summary>
/// The global cap (downstream.maxConnections), first in the listener's pipeline so a flood is refused before
/// any byte is read (the shape of Kestrel's ConnectionLimitMiddleware, with a counted reason).
/// </summary>
internal sealed partial class ConnectionLimitMiddleware(ConnectionDelegate next, ConnectionLimiter limiter, ConnectionCloseCounters closed, ILogger logger)
{
    private readonly Action _release = limiter.Release;

    public Task OnConnectionAsync(ConnectionContext connection)
    {
        if (!limiter.TryAcquire())
        {
            closed.Increment(ProtectionCloseReason.GlobalLimit);
            Log.GlobalLimitReached(logger, connection.RemoteEndPoint?.ToString(), limiter.MaxConnections);
            return Task.CompletedTask; // returning closes the connection, as Kestrel's own limit does
        }

        // Released when the pipeline returns or the socket closes (ConnectionRelease: Kestrel can abandon one).
        return ConnectionRelease.RunAsync(next, connection, _release);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3001, EventName = "GlobalConnectionLimit", Level = LogLevel.Debug,
            Message = "connection from {Peer} closed: {Max} connections are open (downstream.maxConnections)")]
        public static partial void GlobalLimitReached(ILogger logger, string? peer, int max);
    }
}
