using System.Buffers;
using System.Net.Sockets;
using Tether.Gateway.Protection;

namespace Tether.Gateway.Http1;

/// <summary>What the first bytes of a cleartext "http1AndHttp2" connection say it is.</summary>
internal enum PrefaceRoute
{
    /// <summary>Anything but the HTTP/2 preface: the engine serves it.</summary>
    Http1,

    /// <summary>The HTTP/2 client preface (RFC 9113 §3.4), whole: h2c prior knowledge, Kestrel's.</summary>
    Http2,

    /// <summary>Nothing came (closed, keepAliveTimeout, a drain), or part of a preface and then silence: closed.</summary>
    Close,
}

/// <summary>
/// The engine's H2cPrefaceMiddleware: tells h2c prior knowledge from HTTP/1.1 by the first bytes of a connection,
/// with MSG_PEEK, so nothing is consumed and whoever serves the connection reads it from its first byte.
/// </summary>
/// <remarks>
/// Until the first byte the connection holds no buffer: one pending zero-byte receive and a timer
/// (keepAliveTimeout). Then 24 bytes are rented for the peeks and returned with the decision, which is made on the
/// first byte that differs from the preface ("GET", "POST": the first or second byte). A socket cannot be waited on
/// for more bytes than it holds without reading them, so while the bytes in hand are a strict prefix of the preface
/// (rare: every HTTP/2 client sends the preface in one write) the peek is repeated after 1, 2, 4 … 16 ms: a decision
/// comes at most 16 ms after the byte that makes it. That wait is bounded by requestHeadersTimeout from the first
/// byte (a peer that sends "PRI * HT" and stops is closed and counted as slow headers, as on Kestrel listeners).
/// A drain ends the wait: the engine shuts down the socket of a connection that has no request in hand.
/// Limitation: a peer that sends part of a preface and then closes is not seen closing (a peek returns the same
/// bytes either way) and is closed at requestHeadersTimeout, where Kestrel's listener answers it with 400.
/// </remarks>
internal static class H2cPrefacePeek
{
    private static readonly TimeSpan _maxTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1);
    private static readonly TimeSpan _longestPoll = TimeSpan.FromMilliseconds(16);

    public static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    /// <summary>The route the bytes so far decide, or null while they are a strict prefix of the preface.</summary>
    public static PrefaceRoute? Decide(ReadOnlySpan<byte> first)
    {
        var length = Math.Min(first.Length, Preface.Length);
        if (!first[..length].SequenceEqual(Preface[..length]))
        {
            return PrefaceRoute.Http1;
        }

        return length == Preface.Length ? PrefaceRoute.Http2 : null;
    }

    public static async Task<PrefaceRoute> PeekAsync(Socket socket, Http1Engine engine)
    {
        var downstream = engine.Downstream;
        var timeProvider = engine.TimeProvider;
        using var timeout = new CancellationTokenSource(Bounded(downstream.KeepAliveTimeout), timeProvider);
        byte[]? buffer = null;
        var sawBytes = false;
        try
        {
            // A drain shuts the socket down (FIN): the receive ends with nothing to peek, and the connection closes.
            await socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, timeout.Token).ConfigureAwait(false);
            buffer = ArrayPool<byte>.Shared.Rent(Preface.Length);
            var poll = TimeSpan.FromMilliseconds(1);
            while (!engine.IsStopping)
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(0, Preface.Length), SocketFlags.Peek, timeout.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    return PrefaceRoute.Close;
                }

                if (Decide(buffer.AsSpan(0, n)) is { } route)
                {
                    return route;
                }

                if (!sawBytes)
                {
                    // From the first byte the wait is a request head's.
                    sawBytes = true;
                    timeout.CancelAfter(Bounded(downstream.RequestHeadersTimeout));
                }

                await Task.Delay(poll, timeProvider, timeout.Token).ConfigureAwait(false);
                poll = poll < _longestPoll ? poll * 2 : _longestPoll;
            }

            return PrefaceRoute.Close;
        }
        catch (OperationCanceledException)
        {
            // Part of a preface, then silence: Slowloris.
            if (sawBytes)
            {
                engine.Closed.Increment(ProtectionCloseReason.SlowHeaders);
            }

            return PrefaceRoute.Close;
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private static TimeSpan Bounded(TimeSpan timeout) => timeout < _maxTimer ? timeout : Timeout.InfiniteTimeSpan;
}
