using Microsoft.Extensions.Logging;
using Tether.Gateway.Listeners;

namespace Tether.Gateway.Draining;

/// <summary>
/// Rebalancing by recycling (HAProxy close-spread-time, applied to destination changes). When a cluster's
/// destinations change, a fraction of the client connections that existed then is closed, each at its own
/// moment spread over <c>recycle.window</c>: HTTP/1.1 gets <c>Connection: close</c> on its next response,
/// HTTP/2 a GOAWAY. Clients reconnect, and an L4 balancer in front (or Tether's own balancing on the new
/// connection) spreads them onto the new set. Connections opened after the change are never touched.
/// The request path pays one volatile read while no recycling is under way.
/// </summary>
internal sealed partial class Recycler(TimeProvider timeProvider, ILogger logger)
{
    private const int Salt = 0x2c1b;
    private volatile RecycleEpoch? _epoch;
    private long _recycled;

    /// <summary>The recycling under way, or null.</summary>
    public RecycleEpoch? Current => _epoch;

    /// <summary>Connections told to close by recycling since start.</summary>
    public long Recycled => Interlocked.Read(ref _recycled);

    /// <summary><c>recycle.window</c> of the config in force (a reload sets it); zero turns recycling off.</summary>
    public TimeSpan Window { get; set; }

    /// <summary>
    /// Starts recycling <paramref name="fraction"/> of today's connections over <see cref="Window"/>. A
    /// second change during a window starts a new one from now, which also covers what the first had left.
    /// </summary>
    public void Trigger(double fraction, string cause)
    {
        var window = Window;
        if (window <= TimeSpan.Zero || fraction <= 0)
        {
            return;
        }

        var previous = _epoch;
        var epoch = new RecycleEpoch(timeProvider.GetTimestamp(), window, Math.Min(1.0, Math.Max(fraction, previous?.Fraction ?? 0)));
        _epoch = epoch;
        Log.Started(logger, cause, epoch.Fraction * 100, window.TotalSeconds);
    }

    /// <summary>True if <paramref name="connection"/> is chosen and its moment has come; counts it.</summary>
    public bool ShouldClose(RecycleEpoch epoch, DownstreamConnection connection)
    {
        ArgumentNullException.ThrowIfNull(epoch);
        ArgumentNullException.ThrowIfNull(connection);
        if (!epoch.Selects(connection.StartTimestamp, ConnectionPhase.Of(connection, Salt), timeProvider.GetTimestamp(), timeProvider))
        {
            return false;
        }

        Interlocked.Increment(ref _recycled);
        return true;
    }

    /// <summary>Ends the recycling once its window is over (the sweeper calls this each second).</summary>
    public void Sweep()
    {
        if (_epoch is { } epoch && timeProvider.GetElapsedTime(epoch.StartTimestamp) > epoch.Window)
        {
            // A concurrent Trigger may have replaced it: only clear the one that is over.
            Interlocked.CompareExchange(ref _epoch, null, epoch);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4020, EventName = "RecycleStarted", Level = LogLevel.Information,
            Message = "recycling: {Cause}; closing {Percent:0}% of existing client connections spread over {Seconds}s")]
        public static partial void Started(ILogger logger, string cause, double percent, double seconds);
    }
}

/// <summary>One recycling: started at a timestamp, for a window, choosing a fraction of connections.</summary>
internal sealed class RecycleEpoch(long startTimestamp, TimeSpan window, double fraction)
{
    public long StartTimestamp { get; } = startTimestamp;

    public TimeSpan Window { get; } = window;

    public double Fraction { get; } = fraction;

    /// <summary>
    /// A connection opened before the change whose phase is below the fraction is chosen; its moment is its
    /// phase's place within the fraction, stretched over the window, so the chosen ones close evenly spread.
    /// </summary>
    public bool Selects(long connectionStart, double phase, long now, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        if (connectionStart >= StartTimestamp || phase >= Fraction)
        {
            return false;
        }

        return timeProvider.GetElapsedTime(StartTimestamp, now) >= Window * (phase / Fraction);
    }
}
