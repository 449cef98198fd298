using System.Net;
using System.Net.Sockets;

namespace Tether.Doctor.Tests.Servers;

internal static class FreePort
{
    /// <summary>Binds port 0 on loopback, reads the port, releases it. Racy in theory; fine on a test box.</summary>
    public static int Pick()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
    }

    /// <summary>Polls until something accepts on the port (a server starting in another process).</summary>
    public static async Task WaitUntilAcceptingAsync(int port, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                // Polling a process we do not control: the only way to know it is listening is to try.
                await Task.Delay(20);
            }
        }
    }
}
