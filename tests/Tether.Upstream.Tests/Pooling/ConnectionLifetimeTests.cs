using Tether.Upstream.Pooling;
using Tether.Testing;

namespace Tether.Upstream.Tests.Pooling;

public sealed class ConnectionLifetimeTests
{
    private readonly ManualTimeProvider _time = new();

    [Theory]
    [InlineData(5, 4000)]
    [InlineData(2, 1500)]
    [InlineData(1, 750)]
    [InlineData(120, 60000)] // the configured 60 s stays the lower
    public void Learned_keep_alive_timeout_expires_a_margin_before_the_backend(int serverSeconds, int expectedMilliseconds)
    {
        var lifetime = new ConnectionLifetime(_time, TimeSpan.FromSeconds(60), null, 0);
        lifetime.LearnServerKeepAlive(TimeSpan.FromSeconds(serverSeconds), null);
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMilliseconds), lifetime.IdleTimeout);

        lifetime.OnReturnedIdle();
        _time.Advance(TimeSpan.FromMilliseconds(expectedMilliseconds) - TimeSpan.FromTicks(1));
        Assert.Null(lifetime.CheckUsable());
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(ConnectionCloseReason.IdleTimeout, lifetime.CheckUsable());
    }

    [Fact]
    public void Learned_timeout_never_raises_the_configured_one()
    {
        var lifetime = new ConnectionLifetime(_time, TimeSpan.FromSeconds(3), null, 0);
        lifetime.LearnServerKeepAlive(TimeSpan.FromSeconds(2), null);
        lifetime.LearnServerKeepAlive(TimeSpan.FromSeconds(30), null);
        Assert.Equal(TimeSpan.FromSeconds(1.5), lifetime.IdleTimeout);
    }

    [Fact]
    public void Keep_alive_max_counts_down_the_requests_the_backend_still_takes()
    {
        var lifetime = new ConnectionLifetime(_time, TimeSpan.FromSeconds(60), null, 0);
        lifetime.OnRequestStarted();
        lifetime.LearnServerKeepAlive(null, 2); // after this response, two more
        Assert.Null(lifetime.CheckUsable());
        lifetime.OnRequestStarted();
        Assert.Null(lifetime.CheckUsable());
        lifetime.OnRequestStarted();
        Assert.Equal(ConnectionCloseReason.MaxRequests, lifetime.CheckUsable());
    }

    [Fact]
    public void Zero_max_lifetime_means_unlimited()
    {
        var lifetime = new ConnectionLifetime(_time, TimeSpan.FromDays(365), TimeSpan.Zero, 0);
        _time.Advance(TimeSpan.FromDays(30));
        lifetime.OnReturnedIdle();
        Assert.Null(lifetime.CheckUsable());
    }
}
