using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Tether.Configuration;
using Tether.Upstream;

namespace Tether.Gateway.Listeners;

/// <summary>
/// Kestrel connection middleware for every client connection: counts it, sets TCP keepalive and buffer sizes on its socket and
/// attaches the per-connection state the forwarder reads (the shape of Kestrel's ConnectionLimitMiddleware).
/// </summary>
internal sealed class DownstreamConnectionMiddleware(ConnectionDelegate next, DownstreamStatistics statistics, DownstreamConfig config, TimeProvider timeProvider)
{
    private readonly Action _closed = statistics.OnClosed;
    private readonly bool _setsSocketOptions = config.TcpKeepAlive is not null || config.SendBufferSize > 0 || config.ReceiveBufferSize > 0;

    public Task OnConnectionAsync(ConnectionContext connection)
    {
        statistics.OnAccepted();
        if (_setsSocketOptions && connection.Features.Get<IConnectionSocketFeature>()?.Socket is Socket socket)
        {
            try
            {
                SetSocketOptions(socket, config);
            }
            catch (SocketException)
            {
                // The peer may already be gone; the connection fails on its own.
            }
        }

        statistics.OnHandled();
        connection.Features.Set(new DownstreamConnection(timeProvider.GetTimestamp()));

        // Counted closed when the pipeline returns or the socket closes (ConnectionRelease: Kestrel can abandon one).
        return Protection.ConnectionRelease.RunAsync(next, connection, _closed);
    }

    /// <summary>downstream.tcpKeepAlive, sendBufferSize and receiveBufferSize on an accepted client socket (both engines).</summary>
    internal static void SetSocketOptions(Socket socket, DownstreamConfig config)
    {
        if (config.TcpKeepAlive is { } keepAlive)
        {
            SocketOptions.SetTcpKeepAlive(socket, keepAlive);
        }

        // Set after accept, as nginx does for sndbuf=/rcvbuf=: this turns off the kernel's autotuning for the socket.
        if (config.SendBufferSize > 0)
        {
            socket.SendBufferSize = config.SendBufferSize;
        }

        if (config.ReceiveBufferSize > 0)
        {
            socket.ReceiveBufferSize = config.ReceiveBufferSize;
        }
    }
}
