using Tether.Upstream.Pooling;

namespace Tether.Upstream.Tests.Pooling;

public sealed class DurationHistogramTests
{
    [Fact]
    public void Bounds_are_inclusive_and_the_last_bucket_takes_the_rest()
    {
        var h = new DurationHistogram();
        h.Record(TimeSpan.FromMilliseconds(1));
        h.Record(TimeSpan.FromMilliseconds(1) + TimeSpan.FromTicks(1));
        h.Record(TimeSpan.FromSeconds(300));
        h.Record(TimeSpan.FromSeconds(301));
        h.Record(TimeSpan.FromTicks(-5)); // a clock that stepped back counts as zero

        var last = DurationHistogram.UpperBoundsSeconds.Count;
        Assert.Equal(2, h.BucketCount(0));
        Assert.Equal(1, h.BucketCount(1));
        Assert.Equal(1, h.BucketCount(last - 1));
        Assert.Equal(1, h.BucketCount(last));
        Assert.Equal(5, h.Count);
        Assert.Equal(TimeSpan.Zero, h.Min);
        Assert.Equal(TimeSpan.FromSeconds(601) + TimeSpan.FromMilliseconds(2) + TimeSpan.FromTicks(1), h.Sum);
    }

    [Fact]
    public void Min_is_null_until_a_value_is_recorded()
    {
        var h = new DurationHistogram();
        Assert.Null(h.Min);
        Assert.Equal(0, h.Count);
        h.Record(TimeSpan.FromSeconds(4));
        h.Record(TimeSpan.FromSeconds(2));
        h.Record(TimeSpan.FromSeconds(3));
        Assert.Equal(TimeSpan.FromSeconds(2), h.Min);
    }

    [Fact]
    public async Task Concurrent_records_are_all_counted()
    {
        var h = new DurationHistogram();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                h.Record(TimeSpan.FromMilliseconds(i % 100));
            }
        })));

        Assert.Equal(40_000, h.Count);
        var sum = 0L;
        for (var i = 0; i <= DurationHistogram.UpperBoundsSeconds.Count; i++)
        {
            sum += h.BucketCount(i);
        }

        Assert.Equal(40_000, sum);
        Assert.Equal(TimeSpan.Zero, h.Min);
    }

    [Fact]
    public void Latency_bounds_are_their_own_buckets()
    {
        var h = new DurationHistogram(DurationHistogram.LatencyBoundsSeconds);
        Assert.Same(DurationHistogram.LatencyBoundsSeconds, h.Bounds);
        h.Record(TimeSpan.FromMicroseconds(400));
        h.Record(TimeSpan.FromMilliseconds(3));
        h.Record(TimeSpan.FromSeconds(11));

        Assert.Equal(1, h.BucketCount(0));
        Assert.Equal(1, h.BucketCount(3)); // 2.5 ms < 3 ms <= 5 ms
        Assert.Equal(1, h.BucketCount(h.Bounds.Count));
        Assert.Equal(3, h.Count);
        Assert.Equal(TimeSpan.FromSeconds(11) + TimeSpan.FromMicroseconds(3400), h.Sum);
    }
}
