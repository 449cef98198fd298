using Tether.Configuration;

namespace Tether.Upstream.Retries;

/// <summary>
/// Caps retries at a share of live traffic (Linkerd's retry budget, Envoy's retry_budget): over a sliding
/// window of <see cref="WindowSeconds"/> one-second buckets, retries may reach budgetPercent of the requests
/// plus budgetMinPerSecond per second. When every destination fails, a storm is thus bounded by a fraction
/// of the load instead of multiplying it by maxAttempts.
/// </summary>
/// <remarks>
/// Slack: a bucket is reset by whoever first sees that its second has come round again; increments racing
/// with that reset may be lost or land in the fresh bucket. The budget is a safety valve, not an account;
/// a handful of counts either way does not matter.
/// </remarks>
public sealed class RetryBudget
{
    public const int WindowSeconds = 10;

    private readonly TimeProvider _timeProvider;
    private readonly long _minRetriesPerWindow;
    private readonly int _percent;
    private readonly long[] _requests = new long[WindowSeconds];
    private readonly long[] _retries = new long[WindowSeconds];
    private readonly long[] _second = new long[WindowSeconds];
    private readonly object _rollLock = new();

    public RetryBudget(RetryConfig config, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(config);
        _timeProvider = timeProvider;
        _percent = config.BudgetPercent;
        _minRetriesPerWindow = (long)config.BudgetMinPerSecond * WindowSeconds;
        Array.Fill(_second, long.MinValue);
    }

    private long _exhausted;

    /// <summary>Retries refused because the budget was spent.</summary>
    public long Exhausted => Interlocked.Read(ref _exhausted);

    public void OnRequest() => OnRequest(_timeProvider.GetTimestamp());

    /// <summary>A request started at <paramref name="timestamp"/> (the clock's, read once by the caller for all it needs).</summary>
    public void OnRequest(long timestamp) => Interlocked.Increment(ref _requests[Bucket(timestamp / _timeProvider.TimestampFrequency)]);

    /// <summary>Takes one retry from the budget if there is one left.</summary>
    public bool TryRetry()
    {
        var now = CurrentSecond();
        long requests = 0;
        long retries = 0;
        for (var i = 0; i < WindowSeconds; i++)
        {
            if (now - Volatile.Read(ref _second[i]) < WindowSeconds)
            {
                requests += Volatile.Read(ref _requests[i]);
                retries += Volatile.Read(ref _retries[i]);
            }
        }

        if (retries >= _minRetriesPerWindow + (requests * _percent / 100))
        {
            Interlocked.Increment(ref _exhausted);
            return false;
        }

        Interlocked.Increment(ref _retries[Bucket(now)]);
        return true;
    }

    private long CurrentSecond() => _timeProvider.GetTimestamp() / _timeProvider.TimestampFrequency;

    private int Bucket(long second)
    {
        var index = (int)(second % WindowSeconds);
        if (Volatile.Read(ref _second[index]) != second)
        {
            lock (_rollLock)
            {
                if (_second[index] != second)
                {
                    Volatile.Write(ref _requests[index], 0);
                    Volatile.Write(ref _retries[index], 0);
                    Volatile.Write(ref _second[index], second);
                }
            }
        }

        return index;
    }
}
