using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Tether.Gateway.Protection;

namespace Tether.Gateway.Listeners;

/// <summary>
/// On a cleartext "http1AndHttp2" listener, tells h2c prior knowledge from HTTP/1.1 by the first bytes of the
/// connection: the HTTP/2 client preface (RFC 9113 §3.4) makes Kestrel run HTTP/2 for this connection, anything
/// else goes on as HTTP/1.1. Without TLS there is no ALPN, and Kestrel alone always picks HTTP/1.1 there.
/// </summary>
/// <remarks>
/// The bytes are looked at, never consumed: what was read is given back unexamined, so Kestrel's parser starts
/// on it at once. The decision is made as soon as one byte differs from the preface ("GET", "POST", "PUT": the
/// first or second byte), so an HTTP/1.1 request of any length is never held back. Waiting for more of a
/// preface is bounded as Kestrel bounds a request head: keepAliveTimeout before the first byte,
/// requestHeadersTimeout from it (a peer that sends "PRI * HT" and stops is closed and counted as slow
/// headers); a graceful stop ends the wait too. Runs after the PROXY header has been read and the connection
/// caps applied.
/// <para/>
/// Kestrel (.NET 10) has no public way to choose the protocol of one connection; its connection middleware
/// reads it from the internal HttpProtocolsFeature (which Kestrel's own SNI options set, and which the h2c
/// detection in Kestrel's main branch sets the same way). Setting a fake TLS feature instead would make the
/// request scheme "https" and Kestrel would reset every stream whose :scheme is "http".
/// </remarks>
internal sealed class H2cPrefaceMiddleware(ConnectionDelegate next, KestrelServerOptions kestrel, ConnectionCloseCounters closed, TimeProvider timeProvider)
{
    // The longest delay a timer takes (CancellationTokenSource refuses more); longer timeouts mean "none".
    private static readonly TimeSpan _maxTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    private static readonly Type? _protocolsFeatureType =
        typeof(KestrelServerOptions).Assembly.GetType("Microsoft.AspNetCore.Server.Kestrel.Core.Internal.HttpProtocolsFeature", throwOnError: false);

    private static readonly object? _http2Only = CreateProtocolsFeature(HttpProtocols.Http2);

    private enum Decision
    {
        Wait,
        Http1,
        Http2,
        Close,
    }

    /// <summary>False if this Kestrel has no per-connection protocol feature: the listener then serves HTTP/1.1 only, as before.</summary>
    public static bool IsSupported => _http2Only is not null;

    private static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    /// <summary>True once this middleware has switched <paramref name="connection"/> to HTTP/2 (for the middlewares after it).</summary>
    public static bool ChoseHttp2(ConnectionContext connection) =>
        _protocolsFeatureType is not null && ReferenceEquals(connection.Features[_protocolsFeatureType], _http2Only);

    public Task OnConnectionAsync(ConnectionContext connection)
    {
        // Data already buffered (behind a PROXY header, or a fast client): decided without a timer or a state machine.
        var input = connection.Transport.Input;
        if (!input.TryRead(out var result))
        {
            return PeekAsync(connection, sawBytes: false);
        }

        return Examine(input, result) switch
        {
            Decision.Http1 => next(connection),
            Decision.Http2 => Http2(connection),
            Decision.Close => Task.CompletedTask,
            _ => PeekAsync(connection, sawBytes: !result.Buffer.IsEmpty),
        };
    }

    /// <summary>Looks at what has arrived and gives it back: unexamined once decided, examined while more is needed.</summary>
    private static Decision Examine(PipeReader input, in ReadResult result)
    {
        var buffer = result.Buffer;
        var length = (int)Math.Min(buffer.Length, Preface.Length);
        Decision decision;
        if (!StartsLikePreface(buffer, length))
        {
            decision = Decision.Http1;
        }
        else if (length == Preface.Length)
        {
            decision = Decision.Http2;
        }
        else if (result.IsCompleted)
        {
            // The peer stopped sending: nothing at all closes; part of a preface is HTTP/1.1's to answer (400).
            decision = length == 0 ? Decision.Close : Decision.Http1;
        }
        else
        {
            decision = Decision.Wait;
        }

        if (decision == Decision.Wait)
        {
            input.AdvanceTo(buffer.Start, buffer.End);
        }
        else
        {
            input.AdvanceTo(buffer.Start);
        }

        return decision;
    }

    private static bool StartsLikePreface(in ReadOnlySequence<byte> buffer, int length)
    {
        var first = buffer.FirstSpan;
        if (first.Length >= length)
        {
            return first[..length].SequenceEqual(Preface[..length]);
        }

        Span<byte> head = stackalloc byte[Preface.Length];
        buffer.Slice(0, length).CopyTo(head);
        return head[..length].SequenceEqual(Preface[..length]);
    }

    private async Task PeekAsync(ConnectionContext connection, bool sawBytes)
    {
        var input = connection.Transport.Input;
        var limits = kestrel.Limits;
        var shutdown = connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? default;
        using var timeout = new CancellationTokenSource(Bounded(sawBytes ? HeadersTimeout(limits) : limits.KeepAliveTimeout), timeProvider);
        using var stopping = shutdown.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), timeout);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Nothing is lost: every byte read was given back. A part of a preface, then silence: Slowloris.
                if (sawBytes && !shutdown.IsCancellationRequested)
                {
                    closed.Increment(ProtectionCloseReason.SlowHeaders);
                }

                return;
            }
            catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException)
            {
                return;
            }

            switch (Examine(input, result))
            {
                case Decision.Http1:
                    await next(connection).ConfigureAwait(false);
                    return;
                case Decision.Http2:
                    await Http2(connection).ConfigureAwait(false);
                    return;
                case Decision.Close:
                    return;
            }

            if (!sawBytes && !result.Buffer.IsEmpty)
            {
                // The first byte has come: from here on the wait is a request head's.
                sawBytes = true;
                timeout.CancelAfter(Bounded(HeadersTimeout(limits)));
            }
        }
    }

    private Task Http2(ConnectionContext connection)
    {
        connection.Features[_protocolsFeatureType!] = _http2Only;
        return next(connection);
    }

    // Kestrel's limit is set one heartbeat short of the configured value (KestrelLimits.HeartbeatCompensated): this
    // timer is exact, so it adds the heartbeat back and closes at the configured value, never before.
    private static TimeSpan HeadersTimeout(KestrelServerLimits limits) => limits.RequestHeadersTimeout + KestrelLimits.Heartbeat;

    private static TimeSpan Bounded(TimeSpan timeout) => timeout < _maxTimer ? timeout : Timeout.InfiniteTimeSpan;

    private static object? CreateProtocolsFeature(HttpProtocols protocols)
    {
        if (_protocolsFeatureType?.GetConstructor([typeof(HttpProtocols)]) is not { } constructor
            || _protocolsFeatureType.GetProperty("HttpProtocols")?.PropertyType != typeof(HttpProtocols))
        {
            return null;
        }

        return constructor.Invoke([protocols]);
    }
}
