using System.Threading.RateLimiting;

namespace Tether.Gateway.Protection;

/// <summary>
/// A token bucket per key (nginx limit_req with burst … nodelay) in a bounded table: at most <c>maxKeys</c> keys are
/// remembered, and a new key past that takes the place of the least recently seen one, so a flood of distinct
/// addresses or header values costs a fixed amount of memory (about 200 bytes a key). A forgotten key starts again
/// with a full bucket: the slack a bounded table has to give, and only to keys idle longer than every other.
/// Lock-held work is a dictionary lookup and a linked-list move; no request waits (no queue).
/// Time comes from the <see cref="TimeProvider"/>, so tests move it by hand.
/// </summary>
internal sealed class KeyedTokenBuckets : PartitionedRateLimiter<string>
{
    private static readonly RateLimitLease s_acquired = new Lease(true, TimeSpan.Zero);

    private readonly double _tokensPerTick;
    private readonly double _burst;
    private readonly int _maxKeys;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();

    // Every key's node; _recent holds the same nodes, most recently used first. Both only under _gate.
    private readonly Dictionary<string, LinkedListNode<Bucket>> _buckets;
    private readonly LinkedList<Bucket> _recent = new();
    private long _evicted;

    public KeyedTokenBuckets(int tokensPerSecond, int burst, int maxKeys, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(tokensPerSecond, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxKeys, 1);
        _time = time;
        _tokensPerTick = tokensPerSecond / (double)time.TimestampFrequency;
        _burst = burst;
        _maxKeys = maxKeys;
        _buckets = new Dictionary<string, LinkedListNode<Bucket>>(Math.Min(maxKeys, 1024), StringComparer.Ordinal);
    }

    /// <summary>Keys remembered now (never more than maxKeys).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _buckets.Count;
            }
        }
    }

    /// <summary>Keys forgotten to make room for new ones.</summary>
    public long Evicted => Interlocked.Read(ref _evicted);

    public override RateLimiterStatistics? GetStatistics(string resource) => null;

    protected override RateLimitLease AttemptAcquireCore(string resource, int permitCount)
    {
        var now = _time.GetTimestamp();
        lock (_gate)
        {
            if (_buckets.TryGetValue(resource, out var node))
            {
                _recent.Remove(node);
                _recent.AddFirst(node);
            }
            else
            {
                node = TakeNode(resource, now);
            }

            var bucket = node.Value;
            bucket.Tokens = Math.Min(_burst, bucket.Tokens + ((now - bucket.Timestamp) * _tokensPerTick));
            bucket.Timestamp = now;
            if (bucket.Tokens >= permitCount)
            {
                bucket.Tokens -= permitCount;
                return s_acquired;
            }

            var missingTicks = (permitCount - bucket.Tokens) / _tokensPerTick;
            return new Lease(false, TimeSpan.FromSeconds(missingTicks / _time.TimestampFrequency));
        }
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(string resource, int permitCount, CancellationToken cancellationToken) =>
        ValueTask.FromResult(AttemptAcquireCore(resource, permitCount));

    // A node for a new key, at the front: a new one while there is room, else the least recently used one, reused.
    private LinkedListNode<Bucket> TakeNode(string key, long now)
    {
        LinkedListNode<Bucket> node;
        if (_buckets.Count < _maxKeys)
        {
            node = new LinkedListNode<Bucket>(new Bucket());
        }
        else
        {
            node = _recent.Last!;
            _recent.RemoveLast();
            _buckets.Remove(node.Value.Key);
            Interlocked.Increment(ref _evicted);
        }

        var bucket = node.Value;
        bucket.Key = key;
        bucket.Tokens = _burst;
        bucket.Timestamp = now;
        _buckets.Add(key, node);
        _recent.AddFirst(node);
        return node;
    }

    private sealed class Bucket
    {
        public string Key = "";
        public double Tokens;
        public long Timestamp;
    }

    private sealed class Lease(bool acquired, TimeSpan retryAfter) : RateLimitLease
    {
        public override bool IsAcquired => acquired;

        public override IEnumerable<string> MetadataNames => acquired ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            if (!acquired && metadataName == MetadataName.RetryAfter.Name)
            {
                metadata = retryAfter;
                return true;
            }

            metadata = null;
            return false;
        }
    }
}
