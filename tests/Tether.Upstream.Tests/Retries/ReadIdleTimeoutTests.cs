using Tether.Upstream.Http1;
using Tether.Upstream.Retries;

namespace Tether.Upstream.Tests.Retries;

public sealed class ReadIdleTimeoutTests
{
    private static readonly UpstreamException _silentBeforeHead =
        new(UpstreamPhase.ReadHeaders, UpstreamErrorKind.Timeout, "no byte") { ReadIdle = true };

    [Fact]
    public void A_silent_backend_before_any_response_byte_moves_an_idempotent_request_to_another_destination()
    {
        Assert.Equal(RetryDecision.NextDestination, RetryRules.Classify(_silentBeforeHead, reused: false, bodyConsumed: false, idempotent: true));
        Assert.Equal(RetryDecision.NextDestination, RetryRules.Classify(_silentBeforeHead, reused: true, bodyConsumed: false, idempotent: true));
    }

    [Fact]
    public void A_post_a_started_response_a_consumed_body_or_responseTimeout_are_not_retried()
    {
        Assert.Equal(RetryDecision.None, RetryRules.Classify(_silentBeforeHead, reused: false, bodyConsumed: false, idempotent: false));
        Assert.Equal(RetryDecision.None, RetryRules.Classify(_silentBeforeHead, reused: false, bodyConsumed: true, idempotent: true));
        var midResponse = new UpstreamException(UpstreamPhase.ReadBody, UpstreamErrorKind.Timeout, "no byte") { ReadIdle = true, ResponseBytesReceived = true };
        Assert.Equal(RetryDecision.None, RetryRules.Classify(midResponse, reused: false, bodyConsumed: false, idempotent: true));
        var responseTimeout = new UpstreamException(UpstreamPhase.ReadHeaders, UpstreamErrorKind.Timeout, "no response data");
        Assert.Equal(RetryDecision.None, RetryRules.Classify(responseTimeout, reused: false, bodyConsumed: false, idempotent: true));
        Assert.True(RetryRules.CountsAgainstDestination(_silentBeforeHead, reused: true));
    }

    [Fact]
    public void Each_read_waits_readIdleTimeout_until_responseTimeout_is_closer()
    {
        var timeouts = new ReadTimeouts(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(3));

        Assert.Equal(TimeSpan.FromSeconds(3), timeouts.NextWait(TimeSpan.Zero, out var idle));
        Assert.True(idle);
        Assert.Equal(TimeSpan.FromSeconds(3), timeouts.NextWait(TimeSpan.FromSeconds(6.999), out idle));
        Assert.True(idle);
        Assert.Equal(TimeSpan.FromSeconds(3), timeouts.NextWait(TimeSpan.FromSeconds(7), out idle));
        Assert.False(idle);
        Assert.Equal(TimeSpan.FromMilliseconds(1), timeouts.NextWait(TimeSpan.FromSeconds(11), out idle));
        Assert.False(idle);
    }

    [Fact]
    public void Without_readIdleTimeout_every_read_waits_responseTimeout()
    {
        var timeouts = new ReadTimeouts(TimeSpan.FromSeconds(10));

        Assert.Equal(TimeSpan.FromSeconds(10), timeouts.NextWait(TimeSpan.FromSeconds(9), out var idle));
        Assert.False(idle);
    }
}
