using System.Buffers.Text;
using System.Net.Sockets;
using System.Text;
using Tether.Configuration;
using Tether.Upstream.Connecting;

namespace Tether.Upstream.Health;

/// <summary>The outcome of one probe: passed or not, and why, for the log line when the state changes.</summary>
public readonly record struct ProbeResult(bool Passed, string Detail);

/// <summary>
/// One active health probe over HTTP/1.1: a fresh connection of its own through the destination's connector (TLS
/// for an https:// destination; never a pooled one, never a client's), a "GET path" with Connection: close, and
/// the status line of the answer. Nothing more is read. HTTP/2 destinations are probed by
/// <see cref="Http2.Http2Pool.ProbeAsync"/> instead.
/// </summary>
public static class HealthProbe
{
    private const int MaxStatusLineBytes = 1024;

    public static async Task<ProbeResult> ProbeAsync(
        UpstreamConnector connector, string hostHeader, string path, StatusRange expected, TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connector);
        using var timeoutCts = new CancellationTokenSource(timeout, timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutCts.Token);
        UpstreamTransport? transport = null;
        try
        {
            transport = await connector.ConnectAsync(default, AlpnOffer.Http1, linked.Token).ConfigureAwait(false);
            var stream = transport.Stream;
            var request = Encoding.ASCII.GetBytes(
                $"GET {path} HTTP/1.1\r\nHost: {hostHeader}\r\nUser-Agent: tether-health-check\r\nConnection: close\r\n\r\n");
            await stream.WriteAsync(request, linked.Token).ConfigureAwait(false);

            var buffer = new byte[MaxStatusLineBytes];
            var filled = 0;
            while (true)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(filled), linked.Token).ConfigureAwait(false);
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
        catch (UpstreamException ex)
        {
            return new ProbeResult(false, $"{ex.Phase} failed: {ex.Message}");
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            return new ProbeResult(false, $"I/O failed: {(ex as SocketException ?? ex.InnerException as SocketException)?.SocketErrorCode.ToString() ?? ex.Message}");
        }
        finally
        {
            transport?.Dispose();
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
