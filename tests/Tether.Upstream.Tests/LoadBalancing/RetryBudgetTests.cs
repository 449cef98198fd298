using Tether.Configuration;
using Tether.Upstream.Retries;

namespace Tether.Upstream.Tests.LoadBalancing;

public sealed class RetryBudgetTests
{
    [Fact]
    public void Retries_are_capped_at_the_minimum_plus_a_share_of_requests()
    {
        var clock = new ManualClock();
        var budget = new RetryBudget(new RetryConfig { BudgetPercent = 20, BudgetMinPerSecond = 1 }, clock);
        for (var i = 0; i < 100; i++)
        {
            budget.OnRequest();
        }

        // 1/s over the 10 s window, plus 20% of 100 requests.
        var allowed = 0;
        while (budget.TryRetry())
        {
            allowed++;
            Assert.True(allowed <= 1000, "the budget never ran out");
        }

        Assert.Equal(10 + 20, allowed);
        Assert.Equal(1, budget.Exhausted);
    }

    [Fact]
    public void Spent_retries_leave_the_window_after_ten_seconds()
    {
        var clock = new ManualClock();
        var budget = new RetryBudget(new RetryConfig { BudgetPercent = 0, BudgetMinPerSecond = 1 }, clock);
        for (var i = 0; i < 10; i++)
        {
            Assert.True(budget.TryRetry());
        }

        Assert.False(budget.TryRetry());
        clock.Advance(TimeSpan.FromSeconds(RetryBudget.WindowSeconds - 1));
        Assert.False(budget.TryRetry());
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(budget.TryRetry());
    }

    [Theory]
    [InlineData(UpstreamPhase.Connect, UpstreamErrorKind.Refused, false, false, false, RetryDecision.NextDestination)]
    [InlineData(UpstreamPhase.Connect, UpstreamErrorKind.Timeout, false, false, false, RetryDecision.NextDestination)]
    [InlineData(UpstreamPhase.Queue, UpstreamErrorKind.NoCapacity, false, false, false, RetryDecision.NextDestination)]
    [InlineData(UpstreamPhase.ReadHeaders, UpstreamErrorKind.Closed, true, false, true, RetryDecision.StaleConnection)]

    // Issue 11: a bodiless POST whose head left on a reused connection is never replayed, closed or reset.
    [InlineData(UpstreamPhase.ReadHeaders, UpstreamErrorKind.Closed, true, false, false, RetryDecision.None)]
    [InlineData(UpstreamPhase.ReadHeaders, UpstreamErrorKind.Reset, true, false, false, RetryDecision.None)]

    // A head whose write failed never arrived whole: free on a reused connection, whatever the method.
    [InlineData(UpstreamPhase.SendRequest, UpstreamErrorKind.Reset, true, false, false, RetryDecision.StaleConnection)]
    [InlineData(UpstreamPhase.SendRequest, UpstreamErrorKind.Reset, false, false, false, RetryDecision.None)]
    [InlineData(UpstreamPhase.SendRequest, UpstreamErrorKind.Reset, false, false, true, RetryDecision.NextDestination)]
    [InlineData(UpstreamPhase.ReadHeaders, UpstreamErrorKind.Reset, false, false, true, RetryDecision.NextDestination)]
    [InlineData(UpstreamPhase.ReadHeaders, UpstreamErrorKind.Reset, false, false, false, RetryDecision.None)]
    [InlineData(UpstreamPhase.ReadHeaders, UpstreamErrorKind.Closed, true, true, true, RetryDecision.None)]
    [InlineData(UpstreamPhase.SendBody, UpstreamErrorKind.Reset, true, true, false, RetryDecision.None)]
    [InlineData(UpstreamPhase.ReadHeaders, UpstreamErrorKind.Timeout, false, false, true, RetryDecision.None)]
    public void Only_requests_the_backend_never_acted_on_or_safe_to_repeat_are_retried(
        UpstreamPhase phase, UpstreamErrorKind kind, bool reused, bool bodyConsumed, bool idempotent, RetryDecision expected)
    {
        var error = new UpstreamException(phase, kind, "test");
        Assert.Equal(expected, RetryRules.Classify(error, reused, bodyConsumed, idempotent));
    }

    [Fact]
    public void A_stale_pooled_connection_does_not_count_against_its_destination()
    {
        var stale = new UpstreamException(UpstreamPhase.ReadHeaders, UpstreamErrorKind.Closed, "test");
        Assert.False(RetryRules.CountsAgainstDestination(stale, reused: true));
        Assert.True(RetryRules.CountsAgainstDestination(stale, reused: false));
        Assert.True(RetryRules.CountsAgainstDestination(new UpstreamException(UpstreamPhase.Connect, UpstreamErrorKind.Refused, "x"), reused: false));
    }
}
