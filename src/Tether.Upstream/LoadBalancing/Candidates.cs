using Tether.Upstream.Destinations;

namespace Tether.Upstream.LoadBalancing;

/// <summary>Building blocks the policies share: availability, effective weight, weighted draws, filling the rest.</summary>
internal static class Candidates
{
    public static bool IsAvailable(DestinationState destination, long now) => destination.IsAvailable(now);

    /// <summary>The configured weight, reduced while the destination is in slow start.</summary>
    public static double Weight(DestinationState destination, long now) => destination.Health.EffectiveWeight(now);

    public static bool Contains(Span<int> ranked, int count, int index)
    {
        for (var i = 0; i < count; i++)
        {
            if (ranked[i] == index)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>An available destination not yet ranked, drawn with probability proportional to its weight; -1 if none.</summary>
    public static int WeightedDraw(DestinationState[] items, long now, Span<int> ranked, int count)
    {
        double total = 0;
        for (var i = 0; i < items.Length; i++)
        {
            if (IsAvailable(items[i], now) && !Contains(ranked, count, i))
            {
                total += Weight(items[i], now);
            }
        }

        if (total <= 0)
        {
            return -1;
        }

        var x = Random.Shared.NextDouble() * total;
        var last = -1;
        for (var i = 0; i < items.Length; i++)
        {
            if (!IsAvailable(items[i], now) || Contains(ranked, count, i))
            {
                continue;
            }

            last = i;
            x -= Weight(items[i], now);
            if (x < 0)
            {
                return i;
            }
        }

        return last; // rounding left x a hair above zero
    }

    /// <summary>Fills the remaining positions with available destinations in ring order from <paramref name="start"/>.</summary>
    public static int FillInRingOrder(DestinationState[] items, long now, Span<int> ranked, int count, int start)
    {
        for (var step = 0; step < items.Length && count < ranked.Length; step++)
        {
            var i = (start + step) % items.Length;
            if (IsAvailable(items[i], now) && !Contains(ranked, count, i))
            {
                ranked[count++] = i;
            }
        }

        return count;
    }

    /// <summary>In-flight requests per unit of weight: what least-connections and power-of-two compare.</summary>
    public static double Load(DestinationState destination, long now) => destination.InFlight / Weight(destination, now);
}
