using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tether.Client.Tests;

/// <summary>One request as the raw backend read it.</summary>
internal sealed record RawRequest(int ConnectionId, int IndexOnConnection, string Method, string Target, IReadOnlyDictionary<string, string> Headers, byte[] Body);

/// <summary>
/// A small HTTP/1.1 server on a raw socket, for backends that misbehave the way real ones do: it closes an idle
/// kept-alive connection at exactly <see cref="IdleTimeout"/> after its last response, without announcing it (no Keep-Alive
/// header), and counts what each connection carried. Answers come from <see cref="Respond"/> (null: close without one).
/// </summary>
internal sealed class RawBackend : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<int, Socket> _open = new();
    private readonly ConcurrentDictionary<int, int> _requestsPerConnection = new();
    private readonly List<Task> _tasks = [];
    private int _nextConnection;
    private int _requests;
    private int _disposed;

    public RawBackend(IPAddress? address = null, int port = 0)
    {
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(address ?? IPAddress.Loopback, port));
        _listener.Listen(512);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        lock (_tasks)
        {
            _tasks.Add(AcceptLoopAsync());
        }
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}/";

    /// <summary>Idle time after which a kept-alive connection is closed unannounced; null = never.</summary>
    public TimeSpan? IdleTimeout { get; init; }

    public Func<RawRequest, ValueTask<byte[]?>> Respond { get; init; } = _ => ValueTask.FromResult<byte[]?>(Ok("hello"));

    /// <summary>If set, writes the answer itself on the socket (for responses sent in pieces); returns whether the
    /// connection stays open.</summary>
    public Func<RawRequest, Socket, Task<bool>>? Handle { get; init; }

    public ConcurrentQueue<RawRequest> Requests { get; } = new();

    public int RequestCount => Volatile.Read(ref _requests);

    public int ConnectionCount => Volatile.Read(ref _nextConnection);

    public int OpenConnections => _open.Count;

    public int MaxRequestsOnOneConnection => _requestsPerConnection.IsEmpty ? 0 : _requestsPerConnection.Values.Max();

    /// <summary>Raised (on the connection's thread) whenever a connection closes, by either side.</summary>
    public event Action? ConnectionClosed;

    public static byte[] Ok(string body, string extraHeaders = "") =>
        Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n{extraHeaders}\r\n{body}");

    /// <summary>Waits until <paramref name="condition"/> holds, re-checked whenever a connection closes.</summary>
    public async Task WaitForAsync(Func<RawBackend, bool> condition, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (!condition(this))
        {
            var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            void OnClosed() => closed.TrySetResult();
            ConnectionClosed += OnClosed;
            try
            {
                if (condition(this))
                {
                    return;
                }

                await closed.Task.WaitAsync(TimeSpan.FromMilliseconds(200), cts.Token).ContinueWith(_ => { }, TaskScheduler.Default);
                cts.Token.ThrowIfCancellationRequested();
            }
            finally
            {
                ConnectionClosed -= OnClosed;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // A FIN on every open connection first: each connection's pending receive then ends with 0 bytes and its loop
        // closes the socket with nothing in flight. Disposing a socket whose receive is still pending (or being
        // canceled) can make the runtime close it abortively, an RST, and a test of a body cut short would see a
        // reset instead of the end of the stream (it did, once in CI).
        foreach (var s in _open.Values)
        {
            try
            {
                s.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }
        }

        _stopping.Cancel();
        _listener.Dispose();
        Task[] tasks;
        lock (_tasks)
        {
            tasks = [.. _tasks];
        }

        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        foreach (var s in _open.Values)
        {
            s.Dispose(); // any loop that did not end in time
        }

        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception)
            {
                return;
            }

            var id = Interlocked.Increment(ref _nextConnection);
            _open[id] = socket;
            lock (_tasks)
            {
                _tasks.Add(ServeAsync(id, socket));
            }
        }
    }

    private async Task ServeAsync(int id, Socket socket)
    {
        var buffer = new byte[64 * 1024];
        var filled = 0;
        var index = 0;
        try
        {
            while (true)
            {
                // The request head: the idle timer runs only between requests (from the last response on).
                int headEnd;
                while ((headEnd = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
                {
                    using var idle = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                    // Only between requests: a fresh connection waits for its first one (a real server's header
                    // timeout is longer; on a loaded machine a new connection's request can take a while to arrive).
                    if (IdleTimeout is { } t && filled == 0 && index > 0)
                    {
                        idle.CancelAfter(t);
                    }

                    int n;
                    try
                    {
                        n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, idle.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        return; // idle timeout: close without a word
                    }

                    if (n == 0)
                    {
                        return;
                    }

                    filled += n;
                }

                var head = Encoding.ASCII.GetString(buffer, 0, headEnd);
                var lines = head.Split("\r\n");
                var parts = lines[0].Split(' ');
                var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                foreach (var line in lines.Skip(1))
                {
                    var colon = line.IndexOf(':', StringComparison.Ordinal);
                    var name = line[..colon];
                    var value = line[(colon + 1)..].Trim();
                    headers[name] = headers.TryGetValue(name, out var existing) ? existing + ", " + value : value;
                }

                var consumed = headEnd + 4;
                Shift(buffer, ref filled, consumed);
                var body = new MemoryStream();
                if (headers.TryGetValue("Content-Length", out var cl))
                {
                    var length = int.Parse(cl, System.Globalization.CultureInfo.InvariantCulture);
                    while (filled < length)
                    {
                        var n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, _stopping.Token);
                        if (n == 0)
                        {
                            return;
                        }

                        filled += n;
                    }

                    body.Write(buffer, 0, length);
                    Shift(buffer, ref filled, length);
                }
                else if (headers.TryGetValue("Transfer-Encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
                {
                    while (true)
                    {
                        int lineEnd;
                        while ((lineEnd = buffer.AsSpan(0, filled).IndexOf("\r\n"u8)) < 0)
                        {
                            filled += await ReceiveMoreAsync(socket, buffer, filled);
                        }

                        var size = Convert.ToInt32(Encoding.ASCII.GetString(buffer, 0, lineEnd), 16);
                        Shift(buffer, ref filled, lineEnd + 2);
                        while (filled < size + 2)
                        {
                            filled += await ReceiveMoreAsync(socket, buffer, filled);
                        }

                        body.Write(buffer, 0, size);
                        Shift(buffer, ref filled, size + 2);
                        if (size == 0)
                        {
                            break;
                        }
                    }
                }

                index++;
                _requestsPerConnection[id] = index;
                Interlocked.Increment(ref _requests);
                var request = new RawRequest(id, index, parts[0], parts[1], headers, body.ToArray());
                Requests.Enqueue(request);
                if (Handle is { } handle)
                {
                    if (!await handle(request, socket))
                    {
                        return;
                    }

                    continue;
                }

                var response = await Respond(request);
                if (response is null)
                {
                    return;
                }

                await socket.SendAsync(response, SocketFlags.None, _stopping.Token);
                if (headers.TryGetValue("Connection", out var connection) && connection.Contains("close", StringComparison.OrdinalIgnoreCase))
                {
                    return;
                }
            }
        }
        catch (Exception) when (_stopping.IsCancellationRequested)
        {
        }
        catch (SocketException)
        {
        }
        catch (IOException)
        {
        }
        finally
        {
            _open.TryRemove(id, out _);
            try
            {
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
            }

            socket.Dispose();
            ConnectionClosed?.Invoke();
        }
    }

    private async Task<int> ReceiveMoreAsync(Socket socket, byte[] buffer, int filled)
    {
        var n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, _stopping.Token);
        return n == 0 ? throw new IOException("closed mid-body") : n;
    }

    private static void Shift(byte[] buffer, ref int filled, int count)
    {
        buffer.AsSpan(count, filled - count).CopyTo(buffer);
        filled -= count;
    }
}
