namespace Tether.Upstream.Pooling;

/// <summary>
/// A fixed-bucket histogram of durations (Prometheus-style upper bounds, inclusive), with the smallest value
/// seen. Recorded on the request path from every socket thread, so the counts are striped per processor, each
/// stripe on its own cache lines (two threads recording at once do not fight over one line); read racily for
/// reporting. A record is a bucket search, two uncontended interlocked adds and a read.
/// </summary>
public sealed class DurationHistogram
{
    /// <summary>Upper bounds of the reuse-race buckets (the default), in seconds; one more bucket holds everything above the last.</summary>
    public static readonly IReadOnlyList<double> UpperBoundsSeconds = [0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300];

    /// <summary>Upper bounds for request and exchange latencies: OpenTelemetry's http.server.request.duration
    /// advice from 5 ms up, with 0.5, 1 and 2.5 ms below it for what a proxy on a local network sees.</summary>
    public static readonly IReadOnlyList<double> LatencyBoundsSeconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private static readonly long[] s_defaultBoundTicks = Ticks(UpperBoundsSeconds);

    private static readonly int s_stripeMask = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(Environment.ProcessorCount, 1, 16)) - 1;

    private readonly long[] _boundTicks;

    // One stripe: the bucket counts, then the sum in ticks, rounded up to whole 64-byte cache lines.
    private readonly int _stride;
    private readonly int _sumSlot;

    // A leading stride of padding keeps the first stripe off the array header's line.
    private readonly long[] _stripes;
    private long _minTicks = long.MaxValue;

    /// <summary>A histogram over <see cref="UpperBoundsSeconds"/>.</summary>
    public DurationHistogram()
        : this(UpperBoundsSeconds, s_defaultBoundTicks)
    {
    }

    /// <summary>A histogram over the given upper bounds in seconds, ascending.</summary>
    public DurationHistogram(IReadOnlyList<double> upperBoundsSeconds)
        : this(upperBoundsSeconds, Ticks(upperBoundsSeconds))
    {
    }

    private DurationHistogram(IReadOnlyList<double> bounds, long[] boundTicks)
    {
        Bounds = bounds;
        _boundTicks = boundTicks;
        _sumSlot = boundTicks.Length + 1;
        _stride = (_sumSlot + 8) & ~7;
        _stripes = new long[(s_stripeMask + 2) * _stride];
    }

    /// <summary>The upper bounds of the buckets, in seconds; one more bucket holds everything above the last.</summary>
    public IReadOnlyList<double> Bounds { get; }

    public long Count
    {
        get
        {
            long count = 0;
            for (var i = 0; i <= _boundTicks.Length; i++)
            {
                count += BucketCount(i);
            }

            return count;
        }
    }

    public TimeSpan Sum => TimeSpan.FromTicks(SumOver(_sumSlot));

    /// <summary>The smallest duration recorded; null before the first.</summary>
    public TimeSpan? Min => Volatile.Read(ref _minTicks) is var t && t != long.MaxValue ? TimeSpan.FromTicks(t) : null;

    /// <summary>How many values fell in bucket <paramref name="index"/> alone (above the previous bound, at most
    /// this one); index <see cref="Bounds"/>.Count is the bucket above the last bound.</summary>
    public long BucketCount(int index) => SumOver(index);

    public void Record(TimeSpan value)
    {
        var ticks = Math.Max(0, value.Ticks);
        var bounds = _boundTicks;
        var i = 0;
        while (i < bounds.Length && ticks > bounds[i])
        {
            i++;
        }

        var stripe = ((Thread.GetCurrentProcessorId() & s_stripeMask) + 1) * _stride;
        Interlocked.Increment(ref _stripes[stripe + i]);
        Interlocked.Add(ref _stripes[stripe + _sumSlot], ticks);

        // Read first: the line stays shared across processors until a new minimum (rare) is written.
        var min = Volatile.Read(ref _minTicks);
        while (ticks < min)
        {
            var seen = Interlocked.CompareExchange(ref _minTicks, ticks, min);
            if (seen == min)
            {
                break;
            }

            min = seen;
        }
    }

    private static long[] Ticks(IReadOnlyList<double> seconds) => [.. seconds.Select(s => (long)(s * TimeSpan.TicksPerSecond))];

    private long SumOver(int slot)
    {
        long total = 0;
        for (var s = 1; s <= s_stripeMask + 1; s++)
        {
            total += Volatile.Read(ref _stripes[(s * _stride) + slot]);
        }

        return total;
    }
}
