namespace Tether.Doctor.Endpoint;

/// <summary>
/// The arithmetic of the idle-timeout probe, apart from sockets and clocks: which hold times to try in a
/// round, and what the observations say.
/// </summary>
internal static class IdleTimeoutEstimator
{
    /// <summary>Our own detection resolution: a FIN wakes a pending read within about a millisecond; 10 ms is slack.</summary>
    public static readonly TimeSpan Resolution = TimeSpan.FromMilliseconds(10);

    /// <summary>Narrowing stops once the interval is this tight.</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromMilliseconds(250);

    private static readonly TimeSpan MinimumHold = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// First round: holds doubling up to the budget (budget/32 … budget). With a server that sends its FIN,
    /// every connection held past the timeout sees it and the round ends at the timeout; the shorter holds
    /// reuse their connection (a lower bound) and then watch again.
    /// </summary>
    public static IReadOnlyList<TimeSpan> InitialHolds(TimeSpan budget, int connections)
    {
        var holds = new TimeSpan[connections];
        for (var i = 0; i < connections; i++)
        {
            var hold = budget / Math.Pow(2, connections - 1 - i);
            holds[i] = hold < MinimumHold ? MinimumHold : hold;
        }

        return holds;
    }

    /// <summary>Later rounds: holds spread evenly inside the interval still open.</summary>
    public static IReadOnlyList<TimeSpan> NarrowingHolds(TimeSpan lower, TimeSpan upper, int connections)
    {
        var holds = new TimeSpan[connections];
        for (var i = 0; i < connections; i++)
        {
            holds[i] = lower + ((upper - lower) * (i + 1) / (connections + 1));
        }

        return holds;
    }

    public static (TimeSpan Lower, TimeSpan? Upper) Interval(IEnumerable<IdleObservation> observations)
    {
        var lower = TimeSpan.Zero;
        TimeSpan? upper = null;
        foreach (var observation in observations)
        {
            if (observation.Outcome == IdleOutcome.AliveAt && observation.IdleAge > lower)
            {
                lower = observation.IdleAge;
            }
            else if (observation.Outcome is IdleOutcome.DeadAt or IdleOutcome.ClosedAt && (upper is null || observation.IdleAge < upper))
            {
                upper = observation.IdleAge;
            }
        }

        return (lower, upper);
    }

    /// <summary>Turns every observation so far into an estimate.</summary>
    /// <param name="roundTrip">Network round trip; a FIN's timing is only as good as the path it took.</param>
    public static IdleTimeoutEstimate Estimate(IReadOnlyCollection<IdleObservation> observations, TimeSpan roundTrip)
    {
        var closes = observations.Where(o => o.Outcome == IdleOutcome.ClosedAt).Select(o => o.IdleAge).Order().ToList();
        var (lower, upper) = Interval(observations.Where(o => o.Outcome != IdleOutcome.ClosedAt));
        var floor = roundTrip > Resolution ? roundTrip : Resolution;
        if (closes.Count > 0)
        {
            // The earliest close is what a client must stay below. Connections started at different moments
            // see a timer-driven server at different phases, so the gap between closes tells how far the
            // earliest one may still be from the true edge: spread / (n - 1) for n evenly spread phases.
            var spread = closes[^1] - closes[0];
            var phase = closes.Count > 1 ? spread / (closes.Count - 1) : TimeSpan.Zero;
            return new IdleTimeoutEstimate
            {
                Kind = IdleTimeoutKind.Measured,
                Value = closes[0],
                Uncertainty = phase > floor ? phase : floor,
                LowerBound = lower,
                UpperBound = closes[0],
                Closes = closes.Count,
                EarliestClose = closes[0],
                LatestClose = closes[^1],
                Connections = observations.Count,
            };
        }

        if (upper is { } dead)
        {
            var middle = lower < dead ? lower + ((dead - lower) / 2) : dead;
            var half = lower < dead ? (dead - lower) / 2 : floor;
            return new IdleTimeoutEstimate
            {
                Kind = IdleTimeoutKind.Bracketed,
                Value = middle,
                Uncertainty = half > floor ? half : floor,
                LowerBound = lower < dead ? lower : TimeSpan.Zero,
                UpperBound = dead,
                Connections = observations.Count,
            };
        }

        if (observations.Any(o => o.Outcome == IdleOutcome.NotKeptAlive))
        {
            return new IdleTimeoutEstimate { Kind = IdleTimeoutKind.NotKeptAlive, Connections = observations.Count };
        }

        return new IdleTimeoutEstimate
        {
            Kind = observations.Count == 0 ? IdleTimeoutKind.Failed : IdleTimeoutKind.LongerThanBudget,
            LowerBound = lower,
            Connections = observations.Count,
        };
    }
}
