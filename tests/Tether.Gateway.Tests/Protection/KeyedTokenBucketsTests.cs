using System.Threading.RateLimiting;
using Tether.Gateway.Protection;
using Tether.Testing;

namespace Tether.Gateway.Tests.Protection;

/// <summary>The token bucket per key behind routes[].rateLimit, and its bounded key table.</summary>
public sealed class KeyedTokenBucketsTests
{
    private readonly ManualTimeProvider _clock = new();

    [Fact]
    public void A_key_gets_its_burst_then_one_token_per_interval()
    {
        using var buckets = new KeyedTokenBuckets(tokensPerSecond: 10, burst: 3, maxKeys: 100, _clock);

        for (var i = 0; i < 3; i++)
        {
            Assert.True(buckets.AttemptAcquire("a").IsAcquired);
        }

        using var refused = buckets.AttemptAcquire("a");
        Assert.False(refused.IsAcquired);
        Assert.True(refused.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        Assert.Equal(TimeSpan.FromMilliseconds(100), retryAfter);

        _clock.Advance(TimeSpan.FromMilliseconds(99));
        Assert.False(buckets.AttemptAcquire("a").IsAcquired);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(buckets.AttemptAcquire("a").IsAcquired);
        Assert.False(buckets.AttemptAcquire("a").IsAcquired);

        // Another key has a bucket of its own; a long idle refills to the burst, never beyond.
        Assert.True(buckets.AttemptAcquire("b").IsAcquired);
        _clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(3, Enumerable.Range(0, 10).Count(_ => buckets.AttemptAcquire("a").IsAcquired));
    }

    [Fact]
    public void A_flood_of_distinct_keys_keeps_the_table_at_maxKeys_and_evicts_the_least_recently_seen()
    {
        const int MaxKeys = 1000;
        using var buckets = new KeyedTokenBuckets(tokensPerSecond: 1, burst: 1, maxKeys: MaxKeys, _clock);
        Assert.True(buckets.AttemptAcquire("victim").IsAcquired);
        Assert.False(buckets.AttemptAcquire("victim").IsAcquired);

        var before = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < 200_000; i++)
        {
            var key = "10." + (i >> 16) + "." + ((i >> 8) & 255) + "." + (i & 255);
            Assert.True(buckets.AttemptAcquire(key).IsAcquired);
            if (i % 100 == 0)
            {
                // A key in steady use stays remembered (and limited) through the flood.
                Assert.False(buckets.AttemptAcquire("victim").IsAcquired);
            }
        }

        var after = GC.GetTotalMemory(forceFullCollection: true);
        Assert.Equal(MaxKeys, buckets.Count);
        Assert.Equal(200_000 + 1 - MaxKeys, buckets.Evicted);
        Assert.True(after - before < 1024 * 1024, $"the table grew by {after - before} bytes for 200000 keys");

        // The oldest flood keys were forgotten: they start again with a full bucket.
        Assert.True(buckets.AttemptAcquire("10.0.0.0").IsAcquired);
    }
}
