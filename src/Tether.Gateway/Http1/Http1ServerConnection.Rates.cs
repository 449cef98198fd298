using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Tether.Configuration;
using Tether.Gateway.Protection;

namespace Tether.Gateway.Http1;

/// <summary>
/// downstream.minRequestBodyRate and minResponseRate on the "tether" engine, with Kestrel's arithmetic
/// (TimeoutControl) but no heartbeat: the connection's one timer is armed for the moment a pending read or write
/// would fall below its rate, and only while one is pending (a receive or send that completes at once arms nothing).
/// <list type="bullet">
/// <item>Body: time counts only while the application waits for body bytes that have not arrived (not while a
/// slow backend keeps it from reading). Once that time passes the grace period, bytes / time must stay at or
/// above the rate: a wait is cut at max(grace, bytes / rate) of counted time; the read fails with 408 and the
/// connection closes after the answer (counted as slowBody).</item>
/// <item>Response: each send of n bytes may take max(grace, n / rate), and consecutive sends add up their
/// n / rate (a fast send does not lend time to the next); a send still pending at its deadline aborts the
/// connection (counted as slowRead).</item>
/// </list>
/// Neither applies to an upgraded connection, as on Kestrel. The phase timeouts (keep-alive, request headers,
/// lingering) never overlap them: they are armed only while no request is being served.
/// </summary>
internal sealed partial class Http1ServerConnection
{
    // Below this a timer that fired early is taken as on time (timers tick in milliseconds, timestamps finer).
    private static readonly TimeSpan TimerSlack = TimeSpan.FromMilliseconds(2);

    private readonly Lock _rateLock = new();

    // The rates of the request in hand (null: off, or no longer applicable: upgraded, draining the body).
    private DataRateConfig? _readRate;
    private DataRateConfig? _writeRate;

    // Body: counted waiting time (timestamp ticks) and bytes, since the request started.
    private long _readWaitTicks;
    private long _readBytes;

    // Kestrel's _writeTimingTimeoutTimestamp: when the sends so far must have finished at the minimum rate.
    private long _writeBudget;

    // The deadlines of the pending read and send (TimeProvider timestamps); long.MaxValue while none is pending.
    private long _readDeadline = long.MaxValue;
    private long _writeDeadline = long.MaxValue;

    private void StartRates(DownstreamConfig downstream)
    {
        _readRate = downstream.MinRequestBodyRate is { IsOff: false } read ? read : null;
        _writeRate = downstream.MinResponseRate is { IsOff: false } write ? write : null;
        _readWaitTicks = 0;
        _readBytes = 0;
    }

    /// <summary>A receive of request body bytes, timed against minRequestBodyRate when it has to wait.</summary>
    private async ValueTask<int> ReceiveBodyAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        var pending = _socket.ReceiveAsync(destination, SocketFlags.None, cancellationToken);
        if (_readRate is not { } rate || pending.IsCompleted)
        {
            var ready = await pending.ConfigureAwait(false);
            _readBytes += ready;
            return ready;
        }

        var time = _engine.TimeProvider;
        var started = time.GetTimestamp();

        // The counted time at which the bytes so far fall below the rate (never before the grace period).
        var allowed = Math.Max(rate.Grace.TotalSeconds, (double)_readBytes / rate.BytesPerSecond) * time.TimestampFrequency;
        Volatile.Write(ref _readDeadline, started + Math.Max(0, (long)allowed - _readWaitTicks));
        ArmRates();
        int n;
        try
        {
            n = await pending.ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _readDeadline, long.MaxValue);
            _readWaitTicks += time.GetTimestamp() - started;
        }

        if (_timedOut == (int)TimeoutReason.ReadDataRate)
        {
            // Kestrel's words and status; the forwarder answers it (or drops the backend connection mid-body).
            throw new BadHttpRequestException("Reading the request body timed out due to data arriving too slowly. See MinRequestBodyDataRate.", StatusCodes.Status408RequestTimeout);
        }

        _readBytes += n;
        return n;
    }

    /// <summary>Sends every byte (a stream socket's send completes once all are written) through event args borrowed
    /// from the engine for that send, timed against minResponseRate when the kernel cannot take them at once.</summary>
    internal ValueTask SendAsync(ReadOnlyMemory<byte> bytes)
    {
        if (_writeRate is { } rate)
        {
            // What every byte sent so far may take at the rate, sends that completed at once included.
            var time = _engine.TimeProvider;
            var need = (long)((double)bytes.Length / rate.BytesPerSecond * time.TimestampFrequency);
            var single = time.GetTimestamp() + Math.Max(need, (long)(rate.Grace.TotalSeconds * time.TimestampFrequency));
            _writeBudget = Math.Max(single, _writeBudget + need);
        }

        var senders = _engine.Senders;
        var sender = senders.Get();
        ValueTask<int> pending;
        try
        {
            pending = sender.SendAsync(_socket, bytes);
        }
        catch
        {
            senders.Return(sender);
            throw;
        }

        if (pending.IsCompleted)
        {
            try
            {
                pending.GetAwaiter().GetResult();
            }
            finally
            {
                senders.Return(sender);
            }

            return default;
        }

        return AwaitSendAsync(pending, sender);
    }

    private async ValueTask AwaitSendAsync(ValueTask<int> pending, Http1SocketSender sender)
    {
        try
        {
            if (_writeRate is null)
            {
                await pending.ConfigureAwait(false);
                return;
            }

            Volatile.Write(ref _writeDeadline, _writeBudget);
            ArmRates();
            try
            {
                await pending.ConfigureAwait(false);
            }
            finally
            {
                Volatile.Write(ref _writeDeadline, long.MaxValue);
            }
        }
        finally
        {
            _engine.Senders.Return(sender);
        }
    }

    // The timer at the earlier pending deadline. Under a lock: a body read and a send can be pending at once (a
    // backend that answers before the body has all arrived), and each must not move the timer past the other's.
    private void ArmRates()
    {
        lock (_rateLock)
        {
            var deadline = Math.Min(Volatile.Read(ref _readDeadline), Volatile.Read(ref _writeDeadline));
            if (deadline == long.MaxValue || _armed != TimeoutReason.None)
            {
                return;
            }

            var time = _engine.TimeProvider;
            var left = time.GetElapsedTime(time.GetTimestamp(), deadline);
            _timer.Change(left > TimeSpan.Zero ? left : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnRateTimer()
    {
        var now = _engine.TimeProvider.GetTimestamp() + (long)(TimerSlack.TotalSeconds * _engine.TimeProvider.TimestampFrequency);
        if (Volatile.Read(ref _readDeadline) <= now && _timedOut == 0)
        {
            // Only the read side: the pending receive ends, and the 408 can still be written.
            _timedOut = (int)TimeoutReason.ReadDataRate;
            _engine.Closed.Increment(ProtectionCloseReason.SlowBody);
            try
            {
                _socket.Shutdown(SocketShutdown.Receive);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }

            return;
        }

        if (Volatile.Read(ref _writeDeadline) <= now && _timedOut == 0)
        {
            // As Kestrel: the client reads too slowly to be answered; nothing more can be said to it.
            _timedOut = (int)TimeoutReason.WriteDataRate;
            _engine.Closed.Increment(ProtectionCloseReason.SlowRead);
            Abort();
            return;
        }

        // Early (a deadline moved on), or the other side's: armed again for what is still pending.
        ArmRates();
    }
}
