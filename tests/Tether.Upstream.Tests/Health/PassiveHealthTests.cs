using Tether.Configuration;
using Tether.Upstream.Health;
using Tether.Upstream.Tests.LoadBalancing;

namespace Tether.Upstream.Tests.Health;

public sealed class PassiveHealthTests
{
    private static readonly HealthCheckConfig _config = new()
    {
        Passive = new PassiveHealthCheckConfig
        {
            ConsecutiveFailures = 3,
            BaseEjectionTime = TimeSpan.FromSeconds(10),
            MaxEjectionTime = TimeSpan.FromSeconds(25),
        },
        SlowStart = TimeSpan.FromSeconds(20),
    };

    private readonly ManualClock _clock = new();

    [Fact]
    public void Ejects_at_the_threshold_of_consecutive_failures_and_not_before()
    {
        var health = new DestinationHealth(1, _config, _clock);
        Assert.Null(health.ReportFailure());
        Assert.Null(health.ReportFailure());
        Assert.True(health.IsAvailable(_clock.GetTimestamp()));
        Assert.Equal(TimeSpan.FromSeconds(10), health.ReportFailure());
        Assert.False(health.IsAvailable(_clock.GetTimestamp()));
        Assert.Equal(HealthState.Ejected, health.State(_clock.GetTimestamp()));
        Assert.Equal(1, health.Ejections);
    }

    [Fact]
    public void A_success_ends_the_run_of_failures()
    {
        var health = new DestinationHealth(1, _config, _clock);
        health.ReportFailure();
        health.ReportFailure();
        health.ReportSuccess();
        Assert.Null(health.ReportFailure());
        Assert.Null(health.ReportFailure());
        Assert.True(health.IsAvailable(_clock.GetTimestamp()));
    }

    [Fact]
    public void Ejection_ends_at_its_time_exactly()
    {
        var health = new DestinationHealth(1, _config, _clock);
        EjectNow(health);
        _clock.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));
        Assert.False(health.IsAvailable(_clock.GetTimestamp()));
        _clock.Advance(TimeSpan.FromTicks(1));
        Assert.True(health.IsAvailable(_clock.GetTimestamp()));
    }

    [Fact]
    public void Repeat_ejections_grow_by_the_base_time_up_to_the_maximum()
    {
        var health = new DestinationHealth(1, _config, _clock);
        Assert.Equal(TimeSpan.FromSeconds(10), EjectNow(health));
        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(TimeSpan.FromSeconds(20), EjectNow(health));
        _clock.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(TimeSpan.FromSeconds(25), EjectNow(health));
        Assert.Equal(3, health.Ejections);
    }

    [Fact]
    public void A_destination_that_stays_in_for_the_maximum_ejection_time_starts_again_from_the_base()
    {
        var health = new DestinationHealth(1, _config, _clock);
        EjectNow(health);
        _clock.Advance(TimeSpan.FromSeconds(10) + TimeSpan.FromSeconds(25));
        Assert.Equal(TimeSpan.FromSeconds(10), EjectNow(health));
    }

    [Fact]
    public void Failures_of_requests_in_flight_while_ejected_do_not_extend_the_ejection()
    {
        var health = new DestinationHealth(1, _config, _clock);
        EjectNow(health);
        for (var i = 0; i < 10; i++)
        {
            Assert.Null(health.ReportFailure());
        }

        Assert.Equal(1, health.Ejections);
    }

    [Fact]
    public void After_an_ejection_the_weight_ramps_up_over_slow_start()
    {
        var health = new DestinationHealth(4, _config, _clock);
        Assert.Equal(4, health.EffectiveWeight(_clock.GetTimestamp()));
        EjectNow(health);
        _clock.Advance(TimeSpan.FromSeconds(10));
        var now = _clock.GetTimestamp();
        Assert.Equal(HealthState.SlowStart, health.State(now));
        Assert.Equal(0.4, health.EffectiveWeight(now), 6); // the 10% floor
        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(2.0, health.EffectiveWeight(_clock.GetTimestamp()), 6);
        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(4, health.EffectiveWeight(_clock.GetTimestamp()));
        Assert.Equal(HealthState.Healthy, health.State(_clock.GetTimestamp()));
    }

    [Fact]
    public void Zero_consecutive_failures_turns_passive_ejection_off()
    {
        var health = new DestinationHealth(1, new HealthCheckConfig { Passive = new PassiveHealthCheckConfig { ConsecutiveFailures = 0 } }, _clock);
        for (var i = 0; i < 100; i++)
        {
            Assert.Null(health.ReportFailure());
        }

        Assert.True(health.IsAvailable(_clock.GetTimestamp()));
    }

    [Fact]
    public void Active_probes_take_a_destination_out_and_back_at_their_thresholds()
    {
        var config = new HealthCheckConfig { Active = new ActiveHealthCheckConfig { UnhealthyThreshold = 3, HealthyThreshold = 2 } };
        var health = new DestinationHealth(1, config, _clock);
        Assert.False(health.ReportProbe(false));
        Assert.False(health.ReportProbe(false));
        Assert.True(health.IsAvailable(_clock.GetTimestamp()));
        Assert.True(health.ReportProbe(false));
        Assert.Equal(HealthState.Unhealthy, health.State(_clock.GetTimestamp()));
        Assert.False(health.ReportProbe(true));
        Assert.False(health.ReportProbe(false)); // a failure in between starts the count again
        Assert.False(health.ReportProbe(true));
        Assert.True(health.ReportProbe(true));
        Assert.True(health.IsAvailable(_clock.GetTimestamp()));
    }

    [Fact]
    public void Probes_that_pass_again_end_a_passive_ejection()
    {
        var config = _config with { Active = new ActiveHealthCheckConfig { UnhealthyThreshold = 1, HealthyThreshold = 1 } };
        var health = new DestinationHealth(1, config, _clock);
        EjectNow(health);
        Assert.True(health.ReportProbe(false));
        Assert.True(health.ReportProbe(true));
        Assert.True(health.IsAvailable(_clock.GetTimestamp()));
    }

    [Fact]
    public void A_cluster_never_ejects_its_only_destination()
    {
        using var cluster = TestClusters.Create(TestClusters.Config(Configuration.LoadBalancingPolicyNames.LeastConnections, 1), _clock);
        for (var i = 0; i < 20; i++)
        {
            cluster.ReportFailure(cluster.Destinations[0]);
        }

        Assert.True(cluster.Destinations[0].IsAvailable(_clock.GetTimestamp()));
        Assert.Equal(0, cluster.Destinations[0].Health.Ejections);
    }

    private static TimeSpan EjectNow(DestinationHealth health)
    {
        TimeSpan? ejected = null;
        for (var i = 0; i < 3; i++)
        {
            ejected = health.ReportFailure();
        }

        Assert.NotNull(ejected);
        return ejected.Value;
    }
}
