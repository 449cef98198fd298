using System.Net;
using Tether.Configuration;
using Tether.Upstream.Destinations;
using Tether.Upstream.Discovery;

namespace Tether.Upstream.Tests.LoadBalancing;

/// <summary>A clock that moves only when a test says so (timers are not needed by these tests).</summary>
internal sealed class ManualClock : TimeProvider
{
    private long _ticks = TimeSpan.TicksPerDay;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public override DateTimeOffset GetUtcNow() => new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(GetTimestamp());

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

/// <summary>"DNS" that answers what the test says.</summary>
internal sealed class TestResolver : IHostResolver
{
    private volatile IPAddress[] _addresses = [];

    public void Set(params string[] addresses) => _addresses = [.. addresses.Select(IPAddress.Parse)];

    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) => Task.FromResult(_addresses);
}

internal static class TestClusters
{
    /// <summary>Destinations on closed loopback ports: these tests never connect.</summary>
    public static ClusterConfig Config(string policy, params int[] weights) => new()
    {
        LoadBalancing = policy,
        Destinations = [.. weights.Select((w, i) => Destination($"127.0.0.{i + 1}:9", w))],
        ResolveInterval = null,
    };

    public static DestinationConfig Destination(string address, int weight = 1)
    {
        Assert.True(AddressParser.TryParseDestination(address, weight, out var destination, out var error), error);
        return destination;
    }

    public static ClusterState Create(ClusterConfig config, TimeProvider? time = null, IHostResolver? resolver = null) =>
        new("test", config, time ?? new ManualClock(), resolver);

    /// <summary>How often each destination is ranked first over <paramref name="requests"/> requests.</summary>
    public static int[] FirstChoices(ClusterState cluster, int requests, Func<int, ulong>? hash = null)
    {
        var set = cluster.Set;
        var counts = new int[set.Items.Length];
        Span<int> ranked = stackalloc int[set.Items.Length];
        for (var i = 0; i < requests; i++)
        {
            var n = cluster.Rank(set, hash?.Invoke(i) ?? 0, hash is not null, ranked);
            Assert.True(n > 0);
            counts[ranked[0]]++;
        }

        return counts;
    }

    public static void Eject(ClusterState cluster, DestinationState destination)
    {
        for (var i = 0; i < cluster.Config.HealthCheck.Passive.ConsecutiveFailures; i++)
        {
            cluster.ReportFailure(destination);
        }

        Assert.False(destination.IsAvailable(cluster.TimeProvider.GetTimestamp()));
    }
}
