using System.Buffers;
using System.Net.Sockets;

namespace Tether.Upstream.Tunnels;

/// <summary>How a tunnel ended.</summary>
public enum TunnelEnd
{
    /// <summary>One side closed (or failed); the usual end.</summary>
    Closed,

    /// <summary>No byte crossed either way for the idle timeout (clusters.*.tunnelIdleTimeout).</summary>
    Idle,

    /// <summary>The client sent nothing for a ping interval after Tether pinged it (a dead peer).</summary>
    ClientUnresponsive,

    /// <summary>The backend sent nothing for a ping interval after Tether pinged it (a dead peer).</summary>
    BackendUnresponsive,
}

/// <summary>What a tunnel enforces: an idle timeout, and for WebSockets, pings to each silent side.</summary>
/// <param name="IdleTimeout">No byte either way for this long ends the tunnel; null = never.</param>
/// <param name="WebSocketPingInterval">For a WebSocket: a side silent this long gets a Ping from Tether, and if it
/// stays silent as long again, the tunnel ends. Null = no pings.</param>
public readonly record struct TunnelOptions(TimeSpan? IdleTimeout, TimeSpan? WebSocketPingInterval);

/// <summary>
/// Relays bytes both ways between a client stream and a backend socket after a 101, and watches it: the idle
/// timeout, and for a WebSocket, keepalive pings written between frames (a server's unmasked Ping to the client, a
/// client's masked Ping to the backend; the Pong each sends back crosses to the other side, which RFC 6455 allows
/// as an unsolicited Pong).
/// </summary>
public sealed class Tunnel
{
    private static readonly byte[] s_pingToClient = [0x89, 0x00];

    private readonly Stream _backend;
    private readonly Action _shutdownBackendSend;
    private readonly Stream _client;
    private readonly TunnelOptions _options;
    private readonly int _bufferBytes;

    // Guards writes to each side (the relay's and a ping), and that side's frame tracker.
    private readonly SemaphoreSlim _toClientLock = new(1, 1);
    private readonly SemaphoreSlim _toBackendLock = new(1, 1);
    private WebSocketFrameTracker _toClientFrames = new();
    private WebSocketFrameTracker _toBackendFrames = new();

    // Environment.TickCount64 of the last bytes received from each side, and of the ping awaiting an answer (0 = none).
    private long _fromClient;
    private long _fromBackend;
    private long _pingedClient;
    private long _pingedBackend;

    /// <param name="backend">The backend connection's stream (plain or TLS).</param>
    /// <param name="shutdownBackendSend">Half-closes the backend connection (the client finished sending).</param>
    public Tunnel(Stream backend, Action shutdownBackendSend, Stream client, TunnelOptions options, int bufferBytes)
    {
        _backend = backend;
        _shutdownBackendSend = shutdownBackendSend;
        _client = client;
        _options = options;
        _bufferBytes = bufferBytes;
        _fromClient = _fromBackend = Environment.TickCount64;
    }

    /// <summary>
    /// Runs until one side closes or the watch ends it. <paramref name="leftover"/>: bytes the backend sent right
    /// after its 101, read with the head. <paramref name="abort"/> closes the backend socket.
    /// </summary>
    public async Task<TunnelEnd> RunAsync(ReadOnlyMemory<byte> leftover, Action abort)
    {
        ArgumentNullException.ThrowIfNull(abort);
        using var stopWatching = new CancellationTokenSource();
        var toClient = RelayToClientAsync(leftover);
        var toBackend = RelayToBackendAsync();
        var watch = WatchAsync(stopWatching.Token);
        var first = await Task.WhenAny(toClient, toBackend, watch).ConfigureAwait(false);
        await stopWatching.CancelAsync().ConfigureAwait(false);
        abort();
        try
        {
            await _client.DisposeAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
        }

        // The backend ended the tunnel: the client's connection must end too, and Kestrel closes an upgraded
        // connection only once the request delegate returns. Waiting for the client-to-backend relay here would
        // deadlock: it is parked in a read on the client's stream that disposing the stream does not wake. It
        // ends when Kestrel closes the connection after we return, and swallows that error.
        if (first == toBackend)
        {
            await toClient.ConfigureAwait(false);
        }

        return first == watch && watch.IsCompletedSuccessfully ? watch.Result : TunnelEnd.Closed;
    }

    private async Task RelayToClientAsync(ReadOnlyMemory<byte> leftover)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(_bufferBytes);
        try
        {
            if (!leftover.IsEmpty)
            {
                await WriteToClientAsync(leftover).ConfigureAwait(false);
            }

            while (true)
            {
                var n = await _backend.ReadAsync(buffer).ConfigureAwait(false);
                if (n == 0)
                {
                    return;
                }

                Volatile.Write(ref _fromBackend, Environment.TickCount64);
                await WriteToClientAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task RelayToBackendAsync()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(_bufferBytes);
        try
        {
            while (true)
            {
                var n = await _client.ReadAsync(buffer).ConfigureAwait(false);
                if (n == 0)
                {
                    _shutdownBackendSend();
                    return;
                }

                Volatile.Write(ref _fromClient, Environment.TickCount64);
                await _toBackendLock.WaitAsync().ConfigureAwait(false);
                try
                {
                    _toBackendFrames.Advance(buffer.AsSpan(0, n));
                    await _backend.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
                }
                finally
                {
                    _toBackendLock.Release();
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task WriteToClientAsync(ReadOnlyMemory<byte> bytes)
    {
        await _toClientLock.WaitAsync().ConfigureAwait(false);
        try
        {
            _toClientFrames.Advance(bytes.Span);
            await _client.WriteAsync(bytes).ConfigureAwait(false);
            await _client.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            _toClientLock.Release();
        }
    }

    // Ends (with the reason) when the idle timeout passes or a pinged side stays silent; runs until cancelled otherwise.
    private async Task<TunnelEnd> WatchAsync(CancellationToken cancellationToken)
    {
        var idle = _options.IdleTimeout is { } i ? (long)i.TotalMilliseconds : long.MaxValue;
        var ping = _options.WebSocketPingInterval is { } p ? (long)p.TotalMilliseconds : long.MaxValue;
        var tick = TimeSpan.FromMilliseconds(Math.Clamp(Math.Min(idle, ping) / 4, 10, 1000));
        try
        {
            while (true)
            {
                await Task.Delay(tick, cancellationToken).ConfigureAwait(false);
                var now = Environment.TickCount64;
                var fromClient = Volatile.Read(ref _fromClient);
                var fromBackend = Volatile.Read(ref _fromBackend);
                if (now - Math.Max(fromClient, fromBackend) >= idle)
                {
                    return TunnelEnd.Idle;
                }

                if (ping == long.MaxValue)
                {
                    continue;
                }

                if (Unresponsive(ref _pingedClient, fromClient, now, ping))
                {
                    return TunnelEnd.ClientUnresponsive;
                }

                if (Unresponsive(ref _pingedBackend, fromBackend, now, ping))
                {
                    return TunnelEnd.BackendUnresponsive;
                }

                if (_pingedClient == 0 && now - fromClient >= ping && TryStartPing(toClient: true))
                {
                    _pingedClient = now;
                }

                if (_pingedBackend == 0 && now - fromBackend >= ping && TryStartPing(toClient: false))
                {
                    _pingedBackend = now;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            return TunnelEnd.Closed;
        }
    }

    // A side pinged at `pinged` has answered if anything arrived from it since; then the ping is settled (0).
    private static bool Unresponsive(ref long pinged, long lastFrom, long now, long interval)
    {
        if (pinged == 0)
        {
            return false;
        }

        if (lastFrom >= pinged)
        {
            pinged = 0;
            return false;
        }

        return now - pinged >= interval;
    }

    // Starts writing a Ping if that side's stream is free and between frames; false: try again next tick. The write
    // runs on its own and is not awaited here, so a side that stopped reading cannot stall the watch: its silence
    // still ends the tunnel.
    private bool TryStartPing(bool toClient)
    {
        var writeLock = toClient ? _toClientLock : _toBackendLock;
        if (!writeLock.Wait(0))
        {
            return false; // a relay write is in progress
        }

        var atBoundary = toClient ? _toClientFrames.AtBoundary : _toBackendFrames.AtBoundary;
        if (!atBoundary)
        {
            writeLock.Release();
            return false;
        }

        _ = WritePingAsync(writeLock, toClient);
        return true;
    }

    private async Task WritePingAsync(SemaphoreSlim writeLock, bool toClient)
    {
        try
        {
            if (toClient)
            {
                await _client.WriteAsync(s_pingToClient).ConfigureAwait(false);
                await _client.FlushAsync().ConfigureAwait(false);
            }
            else
            {
                // A client's frames are masked (RFC 6455 5.3); an empty payload makes the key's value immaterial.
                var ping = new byte[6];
                ping[0] = 0x89;
                ping[1] = 0x80;
                System.Security.Cryptography.RandomNumberGenerator.Fill(ping.AsSpan(2));
                await _backend.WriteAsync(ping).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            // The tunnel is ending; the relays see it too.
        }
        finally
        {
            writeLock.Release();
        }
    }
}
