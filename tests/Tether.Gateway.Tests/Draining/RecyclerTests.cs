using Microsoft.Extensions.Logging.Abstractions;
using Tether.Configuration;
using Tether.Gateway.Draining;
using Tether.Gateway.Listeners;
using Tether.Testing;

namespace Tether.Gateway.Tests.Draining;

public sealed class RecyclerTests
{
    private readonly ManualTimeProvider _time = new();

    [Fact]
    public void A_chosen_connection_closes_at_its_phase_within_the_window()
    {
        var epoch = new RecycleEpoch(_time.GetTimestamp(), TimeSpan.FromSeconds(10), fraction: 0.5);
        var opened = _time.GetTimestamp() - 1;

        // Phase 0.25 of a 0.5 fraction: half-way through the window.
        Assert.False(epoch.Selects(opened, 0.25, _time.GetTimestamp() + TimeSpan.FromSeconds(5).Ticks - 1, _time));
        Assert.True(epoch.Selects(opened, 0.25, _time.GetTimestamp() + TimeSpan.FromSeconds(5).Ticks, _time));

        // Phases at or above the fraction are never chosen; nor are connections opened after the change.
        Assert.False(epoch.Selects(opened, 0.5, _time.GetTimestamp() + TimeSpan.FromMinutes(5).Ticks, _time));
        Assert.False(epoch.Selects(epoch.StartTimestamp, 0.0, _time.GetTimestamp() + TimeSpan.FromMinutes(5).Ticks, _time));
    }

    [Fact]
    public void About_the_fraction_of_old_connections_is_recycled_by_the_end_of_the_window()
    {
        var connections = new DownstreamConnection[2000];
        for (var i = 0; i < connections.Length; i++)
        {
            connections[i] = new DownstreamConnection(_time.GetTimestamp());
        }

        _time.Advance(TimeSpan.FromSeconds(1));
        var recycler = new Recycler(_time, NullLogger.Instance) { Window = TimeSpan.FromSeconds(10) };
        recycler.Trigger(0.25, "test");
        var epoch = recycler.Current!;

        var early = Count(recycler, epoch, connections);
        _time.Advance(TimeSpan.FromSeconds(5));
        var middle = Count(recycler, epoch, connections);
        _time.Advance(TimeSpan.FromSeconds(5));
        var end = Count(recycler, epoch, connections);

        // Spread out: few at the start, about half by the middle, about the fraction by the end.
        Assert.InRange(early, 0, 20);
        Assert.InRange(early + middle, 180, 320);
        Assert.InRange(early + middle + end, 420, 580);
        Assert.Equal(early + middle + end, recycler.Recycled);
    }

    [Fact]
    public void The_recycling_ends_after_its_window_and_nothing_starts_with_recycling_off()
    {
        var recycler = new Recycler(_time, NullLogger.Instance) { Window = TimeSpan.FromSeconds(10) };
        recycler.Trigger(0.5, "test");
        _time.Advance(TimeSpan.FromSeconds(10));
        recycler.Sweep();
        Assert.NotNull(recycler.Current);
        _time.Advance(TimeSpan.FromTicks(1));
        recycler.Sweep();
        Assert.Null(recycler.Current);

        recycler.Window = TimeSpan.Zero;
        recycler.Trigger(0.5, "test");
        Assert.Null(recycler.Current);
    }

    [Fact]
    public void Lifetime_jitter_only_shortens_and_spreads_lifetimes()
    {
        var policy = new ConnectionPolicy(new DownstreamConfig { MaxConnectionLifetime = TimeSpan.FromMinutes(10) }, _time);
        var shortest = TimeSpan.MaxValue;
        var longest = TimeSpan.Zero;
        for (var i = 0; i < 500; i++)
        {
            var lifetime = policy.LifetimeOf(new DownstreamConnection(i));
            shortest = lifetime < shortest ? lifetime : shortest;
            longest = lifetime > longest ? lifetime : longest;
        }

        // The default jitter is a tenth: lifetimes between 9 and 10 minutes, and actually spread.
        Assert.InRange(shortest, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10));
        Assert.InRange(longest, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10));
        Assert.True(longest - shortest > TimeSpan.FromSeconds(45), $"{shortest}..{longest}");

        var exact = new ConnectionPolicy(new DownstreamConfig { MaxConnectionLifetime = TimeSpan.FromMinutes(10), MaxConnectionLifetimeJitter = TimeSpan.Zero }, _time);
        Assert.Equal(TimeSpan.FromMinutes(10), exact.LifetimeOf(new DownstreamConnection(1)));
    }

    [Fact]
    public void Lifetime_is_reached_at_the_connections_own_lifetime()
    {
        var policy = new ConnectionPolicy(new DownstreamConfig { MaxConnectionLifetime = TimeSpan.FromMinutes(10) }, _time);
        var connection = new DownstreamConnection(_time.GetTimestamp());
        var lifetime = policy.LifetimeOf(connection);

        _time.Advance(lifetime - TimeSpan.FromTicks(1));
        Assert.False(policy.ReachedLifetime(connection));
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.True(policy.ReachedLifetime(connection));
    }

    private static int Count(Recycler recycler, RecycleEpoch epoch, DownstreamConnection[] connections)
    {
        var n = 0;
        for (var i = 0; i < connections.Length; i++)
        {
            if (connections[i] is { } c && recycler.ShouldClose(epoch, c))
            {
                n++;
                connections[i] = null!;
            }
        }

        return n;
    }
}
