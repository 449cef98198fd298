using System.Net.Sockets;
using Tether.Configuration;

namespace Tether.Upstream;

public static class SocketOptions
{
    /// <summary>SO_KEEPALIVE with TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT from config.</summary>
    public static void SetTcpKeepAlive(Socket socket, TcpKeepAliveConfig keepAlive)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(keepAlive);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, Math.Max(1, (int)keepAlive.Idle.TotalSeconds));
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, Math.Max(1, (int)keepAlive.Interval.TotalSeconds));
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, keepAlive.Probes);
    }

    // TCP_USER_TIMEOUT (linux/tcp.h); .NET has no SocketOptionName for it.
    private const int TcpUserTimeoutOption = 18;

    /// <summary>TCP_USER_TIMEOUT: sent data (or keepalive probes) unacknowledged this long fails the connection
    /// with ETIMEDOUT. Linux only; elsewhere it is not set (the OS default stays).</summary>
    public static void SetTcpUserTimeout(Socket socket, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        socket.SetRawSocketOption((int)SocketOptionLevel.Tcp, TcpUserTimeoutOption, BitConverter.GetBytes((int)timeout.TotalMilliseconds));
    }

    /// <summary>TCP_USER_TIMEOUT as the kernel holds it, in milliseconds (0 = not set). Linux only.</summary>
    public static int GetTcpUserTimeoutMilliseconds(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        var value = new byte[sizeof(int)];
        socket.GetRawSocketOption((int)SocketOptionLevel.Tcp, TcpUserTimeoutOption, value);
        return BitConverter.ToInt32(value);
    }
}
