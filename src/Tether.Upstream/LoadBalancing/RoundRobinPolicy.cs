using Tether.Configuration;
using Tether.Upstream.Destinations;

namespace Tether.Upstream.LoadBalancing;

/// <summary>
/// Takes turns (nginx's default, HAProxy balance roundrobin). With equal weights it is a strict rotation over
/// the available destinations. With unequal weights (or during slow start) turn n lands at frac(n·φ) along
/// the cumulative weights: a low-discrepancy sequence, so shares match the weights closely over any window
/// and a heavy destination's turns are spread out rather than bunched, without per-destination state.
/// </summary>
internal sealed class RoundRobinPolicy : ILoadBalancingPolicy
{
    // 2^64 / φ: multiplying by it and keeping the top bits gives frac(n·φ) exactly, for any n.
    private const ulong GoldenRatio64 = 0x9E3779B97F4A7C15UL;

    private long _turn;

    public string Name => LoadBalancingPolicyNames.RoundRobin;

    public int Rank(DestinationSet set, in PickContext context, Span<int> ranked)
    {
        if (ranked.IsEmpty)
        {
            return 0;
        }

        var items = set.Items;
        var now = context.Timestamp;
        var available = 0;
        double total = 0;
        double firstWeight = -1;
        var equal = true;
        for (var i = 0; i < items.Length; i++)
        {
            if (!Candidates.IsAvailable(items[i], now))
            {
                continue;
            }

            var w = Candidates.Weight(items[i], now);
            available++;
            total += w;
            equal &= firstWeight < 0 || w == firstWeight;
            firstWeight = w;
        }

        if (available == 0)
        {
            return 0;
        }

        var turn = Interlocked.Increment(ref _turn) - 1;
        var first = equal ? NthAvailable(items, now, (int)(turn % available)) : AtWeight(items, now, Fraction(turn) * total);
        ranked[0] = first;
        return Candidates.FillInRingOrder(items, now, ranked, 1, first + 1);
    }

    private static double Fraction(long turn) => (unchecked((ulong)turn * GoldenRatio64) >> 11) * (1.0 / (1UL << 53));

    private static int NthAvailable(DestinationState[] items, long now, int n)
    {
        for (var i = 0; i < items.Length; i++)
        {
            if (Candidates.IsAvailable(items[i], now) && n-- == 0)
            {
                return i;
            }
        }

        return 0; // not reached: n < available
    }

    private static int AtWeight(DestinationState[] items, long now, double position)
    {
        var last = 0;
        for (var i = 0; i < items.Length; i++)
        {
            if (!Candidates.IsAvailable(items[i], now))
            {
                continue;
            }

            last = i;
            position -= Candidates.Weight(items[i], now);
            if (position < 0)
            {
                return i;
            }
        }

        return last;
    }
}
