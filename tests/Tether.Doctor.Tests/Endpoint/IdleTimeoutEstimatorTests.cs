using Tether.Doctor.Endpoint;

namespace Tether.Doctor.Tests.Endpoint;

public sealed class IdleTimeoutEstimatorTests
{
    private static readonly TimeSpan _second = TimeSpan.FromSeconds(1);

    [Fact]
    public void Closes_give_the_earliest_close_with_the_phase_gap_as_uncertainty()
    {
        IdleObservation[] observations =
        [
            new(IdleOutcome.AliveAt, 2 * _second),
            new(IdleOutcome.ClosedAt, 5.2 * _second),
            new(IdleOutcome.ClosedAt, 5.5 * _second),
            new(IdleOutcome.ClosedAt, 6.0 * _second),
        ];

        var estimate = IdleTimeoutEstimator.Estimate(observations, TimeSpan.Zero);

        Assert.Equal(IdleTimeoutKind.Measured, estimate.Kind);
        Assert.Equal(5.2 * _second, estimate.Value);
        Assert.Equal(0.4 * _second, estimate.Uncertainty);
        Assert.Equal(4.8 * _second, estimate.SafeClientExpiry);
    }

    [Fact]
    public void Silent_drops_bracket_the_timeout_between_the_last_success_and_the_first_failure()
    {
        IdleObservation[] observations = [new(IdleOutcome.AliveAt, 4 * _second), new(IdleOutcome.DeadAt, 8 * _second), new(IdleOutcome.DeadAt, 16 * _second)];

        var estimate = IdleTimeoutEstimator.Estimate(observations, TimeSpan.Zero);

        Assert.Equal(IdleTimeoutKind.Bracketed, estimate.Kind);
        Assert.Equal(6 * _second, estimate.Value);
        Assert.Equal(2 * _second, estimate.Uncertainty);
        Assert.Equal(IdleTimeoutEstimator.NarrowingHolds(4 * _second, 8 * _second, 3), [5 * _second, 6 * _second, 7 * _second]);
    }

    [Fact]
    public void Only_survivors_means_longer_than_the_budget_and_nothing_means_failed()
    {
        var longer = IdleTimeoutEstimator.Estimate([new(IdleOutcome.AliveAt, 59 * _second)], TimeSpan.Zero);
        Assert.Equal(IdleTimeoutKind.LongerThanBudget, longer.Kind);
        Assert.Equal(59 * _second, longer.LowerBound);
        Assert.Equal(IdleTimeoutKind.Failed, IdleTimeoutEstimator.Estimate([], TimeSpan.Zero).Kind);
        Assert.Equal(IdleTimeoutKind.NotKeptAlive, IdleTimeoutEstimator.Estimate([new(IdleOutcome.NotKeptAlive, TimeSpan.Zero)], TimeSpan.Zero).Kind);
    }

    [Fact]
    public void Initial_holds_double_up_to_the_budget()
    {
        var holds = IdleTimeoutEstimator.InitialHolds(64 * _second, 6);

        Assert.Equal([2 * _second, 4 * _second, 8 * _second, 16 * _second, 32 * _second, 64 * _second], holds);
    }
}
