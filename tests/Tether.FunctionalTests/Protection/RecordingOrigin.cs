using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Tether.Gateway.ProxyProtocol;

namespace Tether.FunctionalTests.Protection;

/// <summary>
/// A raw-socket HTTP/1.1 origin for the protection tests: records every connection's PROXY header (if the
/// first bytes are one) and every request head it receives, answers 200 "ok", or a large body for /big.
/// </summary>
internal sealed class RecordingOrigin : IAsyncDisposable
{
    public const int BigBodyBytes = 64 * 1024 * 1024;

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public RecordingOrigin()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public string Address => "127.0.0.1:" + ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Request heads in arrival order (request line and headers, CRLF separated).</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    /// <summary>The PROXY header at the start of each connection, in order (connections without one add nothing).</summary>
    public ConcurrentQueue<ProxyHeader> ProxyHeaders { get; } = new();

    public int Connections;

    /// <summary>Bytes received over all connections (PROXY headers included).</summary>
    public long BytesReceived;

    /// <summary>Connections that have ended (the peer closed or reset them).</summary>
    public int ConnectionsEnded;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (Exception ex) when (ex is ObjectDisposedException or SocketException or OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    /// <summary>The value of header <paramref name="name"/> in request <paramref name="index"/>, or null.</summary>
    public string? Header(int index, string name)
    {
        foreach (var line in Requests.ElementAt(index).Split("\r\n"))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line[..colon].Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return line[(colon + 1)..].Trim();
            }
        }

        return null;
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var socket = await _listener.AcceptSocketAsync(_stop.Token);
            Interlocked.Increment(ref Connections);
            _ = Task.Run(() => ServeAsync(socket));
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using var owned = socket;
        var buffer = new List<byte>();
        var chunk = new byte[16 * 1024];
        var first = true;
        try
        {
            while (true)
            {
                var n = await socket.ReceiveAsync(chunk, SocketFlags.None, _stop.Token);
                if (n == 0)
                {
                    return;
                }

                Interlocked.Add(ref BytesReceived, n);
                buffer.AddRange(chunk.AsSpan(0, n));
                if (first)
                {
                    var status = ProxyHeaderParser.TryParse(new ReadOnlySequence<byte>(buffer.ToArray()), out var header, out var consumed, out _);
                    if (status == ProxyParseStatus.Incomplete)
                    {
                        continue;
                    }

                    first = false;
                    if (status == ProxyParseStatus.Parsed)
                    {
                        ProxyHeaders.Enqueue(header);
                        buffer.RemoveRange(0, (int)consumed);
                    }
                }

                while (TryTakeRequest(buffer, out var head))
                {
                    Requests.Enqueue(head);
                    var big = head.StartsWith("GET /big ", StringComparison.Ordinal);
                    await RespondAsync(socket, big);
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            Interlocked.Increment(ref ConnectionsEnded);
        }
    }

    private static async Task RespondAsync(Socket socket, bool big)
    {
        if (!big)
        {
            await socket.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray(), SocketFlags.None);
            return;
        }

        await socket.SendAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {BigBodyBytes}\r\n\r\n"), SocketFlags.None);
        var block = new byte[256 * 1024];
        for (var sent = 0; sent < BigBodyBytes; sent += block.Length)
        {
            await socket.SendAsync(block, SocketFlags.None);
        }
    }

    // One complete request (head plus a Content-Length or chunked body) off the front of the buffer.
    private static bool TryTakeRequest(List<byte> buffer, out string head)
    {
        head = "";
        var bytes = buffer.ToArray();
        var end = bytes.AsSpan().IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            return false;
        }

        head = Encoding.Latin1.GetString(bytes, 0, end);
        var total = end + 4;
        var lower = head.ToLowerInvariant();
        if (lower.Contains("\r\ntransfer-encoding: chunked", StringComparison.Ordinal))
        {
            var terminator = bytes.AsSpan(total).IndexOf("0\r\n\r\n"u8);
            if (terminator < 0)
            {
                return false;
            }

            total += terminator + 5;
        }
        else
        {
            var at = lower.IndexOf("\r\ncontent-length:", StringComparison.Ordinal);
            if (at >= 0)
            {
                var lineEnd = lower.IndexOf('\r', at + 2);
                var length = int.Parse(lower[(at + 17)..(lineEnd < 0 ? lower.Length : lineEnd)].Trim(), System.Globalization.CultureInfo.InvariantCulture);
                if (bytes.Length < total + length)
                {
                    return false;
                }

                total += length;
            }
        }

        buffer.RemoveRange(0, total);
        return true;
    }
}
