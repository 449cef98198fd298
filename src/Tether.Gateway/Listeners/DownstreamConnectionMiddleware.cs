using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Tether.Configuration;
using Tether.Upstream;

namespace Tether.Gateway.Listeners;

/// <summary>
/// Kestrel connection middleware for every client connection: counts it, sets TCP keepalive on its socket and
/// attaches the per-connection state the forwarder reads (the shape of Kestrel's ConnectionLimitMiddleware).
/// </summary>
internal sealed class DownstreamConnectionMiddleware(ConnectionDelegate next, DownstreamStatistics statistics, DownstreamConfig config, TimeProvider timeProvider)
{
    public async Task OnConnectionAsync(ConnectionContext connection)
    {
        statistics.OnAccepted();
        if (config.TcpKeepAlive is { } keepAlive && connection.Features.Get<IConnectionSocketFeature>()?.Socket is Socket socket)
        {
            try
            {
                SocketOptions.SetTcpKeepAlive(socket, keepAlive);
            }
            catch (SocketException)
            {
                // The peer may already be gone; the connection fails on its own.
            }
        }

        statistics.OnHandled();
        connection.Features.Set(new DownstreamConnection(timeProvider.GetTimestamp()));
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            statistics.OnClosed();
        }
    }
}
