namespace Tether.Upstream.Destinations;

/// <summary>
/// An immutable snapshot of a cluster's destinations. DNS changes build a new set and swap it whole; a
/// request ranks and retries within the set it started with.
/// </summary>
public sealed class DestinationSet
{
    private object? _policyData;

    public DestinationSet(DestinationState[] items)
    {
        Items = items;
    }

    public static DestinationSet Empty { get; } = new([]);

    public DestinationState[] Items { get; }

    /// <summary>
    /// Data a policy derives from this set (the consistent-hash ring), built on first use. Two requests may
    /// both build it; one result wins and both are equal, so the race costs only the extra work.
    /// </summary>
    internal T GetOrAddPolicyData<T>(Func<DestinationState[], T> build)
        where T : class
    {
        if (Volatile.Read(ref _policyData) is T data)
        {
            return data;
        }

        var built = build(Items);
        return Interlocked.CompareExchange(ref _policyData, built, null) as T ?? built;
    }
}
