using System.Globalization;

namespace Tether.FunctionalTests.Infrastructure;

/// <summary>Reads Linux's /proc/net/tcp: the kernel's own view of a socket, for figures no API exposes.</summary>
internal static class TcpTable
{
    /// <summary>tx_queue of the 127.0.0.1 socket with these ports: bytes written but not yet acknowledged by the peer.</summary>
    public static long SendQueueBytes(int localPort, int remotePort)
    {
        // "  sl  local_address rem_address   st tx_queue:rx_queue ..." with addresses as hex IP:hex port.
        foreach (var line in File.ReadLines("/proc/net/tcp").Skip(1))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (Port(fields[1]) == localPort && Port(fields[2]) == remotePort)
            {
                var queues = fields[4].Split(':');
                return long.Parse(queues[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"no socket 127.0.0.1:{localPort} -> :{remotePort} in /proc/net/tcp");
    }

    private static int Port(string address) =>
        int.Parse(address.AsSpan(address.IndexOf(':') + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
