namespace Tether.Upstream.Pooling;

/// <summary>
/// A fixed-bucket histogram of durations (Prometheus-style upper bounds, inclusive), with the smallest value
/// seen. Recorded on the request path from every socket thread, so the counts are striped per processor, each
/// stripe on its own cache lines (two threads recording at once do not fight over one line); read racily for
/// reporting.
/// </summary>
public sealed class DurationHistogram
{
    /// <summary>Upper bounds of the buckets, in seconds; one more bucket holds everything above the last.</summary>
    public static readonly IReadOnlyList<double> UpperBoundsSeconds = [0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300];

    private static readonly long[] s_boundTicks = [.. UpperBoundsSeconds.Select(s => (long)(s * TimeSpan.TicksPerSecond))];

    // One stripe: the bucket counts, then the sum in ticks; 16 longs = 128 bytes, two cache lines.
    private const int Stride = 16;
    private const int SumSlot = 12;

    private static readonly int s_stripeMask = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(Environment.ProcessorCount, 1, 16)) - 1;

    // A leading stride of padding keeps the first stripe off the array header's line.
    private readonly long[] _stripes = new long[(s_stripeMask + 2) * Stride];
    private long _minTicks = long.MaxValue;

    public long Count
    {
        get
        {
            long count = 0;
            for (var i = 0; i <= s_boundTicks.Length; i++)
            {
                count += BucketCount(i);
            }

            return count;
        }
    }

    public TimeSpan Sum => TimeSpan.FromTicks(SumOver(SumSlot));

    /// <summary>The smallest duration recorded; null before the first.</summary>
    public TimeSpan? Min => Volatile.Read(ref _minTicks) is var t && t != long.MaxValue ? TimeSpan.FromTicks(t) : null;

    /// <summary>How many values fell in bucket <paramref name="index"/> alone (above the previous bound, at most
    /// this one); index <see cref="UpperBoundsSeconds"/>.Count is the bucket above the last bound.</summary>
    public long BucketCount(int index) => SumOver(index);

    public void Record(TimeSpan value)
    {
        var ticks = Math.Max(0, value.Ticks);
        var i = 0;
        while (i < s_boundTicks.Length && ticks > s_boundTicks[i])
        {
            i++;
        }

        var stripe = ((Thread.GetCurrentProcessorId() & s_stripeMask) + 1) * Stride;
        Interlocked.Increment(ref _stripes[stripe + i]);
        Interlocked.Add(ref _stripes[stripe + SumSlot], ticks);

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

    private long SumOver(int slot)
    {
        long total = 0;
        for (var s = 1; s <= s_stripeMask + 1; s++)
        {
            total += Volatile.Read(ref _stripes[(s * Stride) + slot]);
        }

        return total;
    }
}
