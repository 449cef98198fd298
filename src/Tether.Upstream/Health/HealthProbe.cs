using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Tether.Configuration;

namespace Tether.Upstream.Health;

/// <summary>The outcome of one probe: passed or not, and why, for the log line when the state changes.</summary>
public readonly record struct ProbeResult(bool Passed, string Detail);

/// <summary>
/// One active health probe: a fresh TCP connection of its own (never a pooled one, never a client's), a
/// "GET path" with Connection: close, and the status line of the answer. Nothing more is read.
/// </summary>
public static class HealthProbe
{
    private const int MaxStatusLineBytes = 1024;

    public static async Task<ProbeResult> ProbeAsync(
        EndPoint endPoint, string hostHeader, string path, StatusRange expected, TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        using var timeoutCts = new CancellationTokenSource(timeout, timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutCts.Token);
        using var socket = endPoint is DnsEndPoint
            ? new Socket(SocketType.Stream, ProtocolType.Tcp)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.NoDelay = true;
            await socket.ConnectAsync(endPoint, linked.Token).ConfigureAwait(false);
            var request = Encoding.ASCII.GetBytes(
                $"GET {path} HTTP/1.1\r\nHost: {hostHeader}\r\nUser-Agent: tether-health-check\r\nConnection: close\r\n\r\n");
            await socket.SendAsync(request, SocketFlags.None, linked.Token).ConfigureAwait(false);

            var buffer = new byte[MaxStatusLineBytes];
            var filled = 0;
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, linked.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return new ProbeResult(false, "closed before a status line");
                }

                filled += read;
                var lineEnd = buffer.AsSpan(0, filled).IndexOf((byte)'\n');
                if (lineEnd >= 0)
                {
                    return Judge(buffer.AsSpan(0, lineEnd), expected);
                }

                if (filled == buffer.Length)
                {
                    return new ProbeResult(false, "status line too long");
                }
            }
        }
        catch (OperationCanceledException) when (timeoutCts.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return new ProbeResult(false, $"no answer within {timeout.TotalMilliseconds:0}ms");
        }
        catch (SocketException ex)
        {
            return new ProbeResult(false, $"connect or I/O failed: {ex.SocketErrorCode}");
        }
    }

    // "HTTP/1.1 200 OK"
    private static ProbeResult Judge(ReadOnlySpan<byte> line, StatusRange expected)
    {
        if (!line.StartsWith("HTTP/1."u8) || line.Length < 12 || line[8] != (byte)' '
            || !Utf8Parser.TryParse(line.Slice(9, 3), out int status, out var consumed) || consumed != 3)
        {
            return new ProbeResult(false, "not an HTTP/1.x status line");
        }

        return expected.Contains(status)
            ? new ProbeResult(true, $"status {status}")
            : new ProbeResult(false, $"status {status}, expected {expected}");
    }
}
