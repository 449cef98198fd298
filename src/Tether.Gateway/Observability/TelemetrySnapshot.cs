using System.Reflection;
using Tether.Configuration;
using Tether.Gateway.Admin;
using Tether.Gateway.Protection;
using Tether.Gateway.Reload;
using Tether.Upstream;
using Tether.Upstream.Destinations;
using Tether.Upstream.Pooling;

namespace Tether.Gateway.Observability;

/// <summary>
/// Every figure the admin endpoint shows, read once from the live objects: /status writes it as JSON, /metrics
/// as Prometheus text (<see cref="MetricFamilies"/>), and the <c>Tether</c> meter's observable instruments read
/// the families of the latest one. Taking one walks the clusters once; nothing on the request path waits for it.
/// </summary>
internal sealed class TelemetrySnapshot
{
    private TelemetrySnapshot()
    {
    }

    public DateTimeOffset At { get; private init; }

    public static BuildFigures Build { get; } = BuildFigures.Read();

    public required DownstreamFigures Downstream { get; init; }

    public required RequestFigures Requests { get; init; }

    public required OperationsFigures Operations { get; init; }

    public required AccessLogFigures AccessLog { get; init; }

    public required ProcessFigures Process { get; init; }

    public required IReadOnlyList<ClusterFigures> Clusters { get; init; }

    public required IReadOnlyList<RouteFigures> Routes { get; init; }

    public static TelemetrySnapshot Take(TetherGateway gateway)
    {
        var d = gateway.Downstream;
        var counters = gateway.Counters;
        var errors = new List<(UpstreamPhase, UpstreamErrorKind, long)>();
        foreach (var phase in Enum.GetValues<UpstreamPhase>())
        {
            foreach (var kind in Enum.GetValues<UpstreamErrorKind>())
            {
                if (counters.Errors(phase, kind) is var n and > 0)
                {
                    errors.Add((phase, kind, n));
                }
            }
        }

        var model = gateway.Model;
        var clusters = new List<ClusterFigures>(model.Clusters.Count);
        foreach (var (name, cluster) in model.Clusters)
        {
            clusters.Add(ClusterFigures.Of(name, cluster));
        }

        var routes = new List<RouteFigures>();
        foreach (var statistics in model.Routes.Statistics.Append(gateway.Telemetry.Unrouted))
        {
            var series = new List<(string Method, string StatusClass, HistogramFigures Histogram)>();
            foreach (var (method, statusClass, histogram) in statistics.Series())
            {
                series.Add((method, statusClass, HistogramFigures.Of(histogram)));
            }

            routes.Add(new RouteFigures(statistics.Cluster, statistics.Route, series));
        }

        var accessLog = gateway.Telemetry.AccessLog;
        return new TelemetrySnapshot
        {
            At = DateTimeOffset.UtcNow,
            Downstream = new DownstreamFigures(
                d.Active, d.Writing, d.Waiting, d.Accepted, d.Handled, d.Requests,
                [.. ConnectionCloseCounters.Reasons.Select(r => (r, d.Closed[r]))], d.Reading),
            Requests = new RequestFigures(d.Requests, d.Writing, counters.NotFound, counters.Rejected, counters.ClientAbortedCount, errors),
            Operations = new OperationsFigures(
                gateway.IsReady, gateway.Drainer.IsDraining, gateway.Recycler.Current is not null, gateway.Recycler.Recycled, gateway.Retired.Count, gateway.LastReload, gateway.ConfigRevision),
            AccessLog = new AccessLogFigures(
                accessLog.Config.IsOff ? AccessLogConfig.Off : accessLog.Config.IsStdout ? AccessLogConfig.Stdout : accessLog.Config.Path,
                Names.Camel(accessLog.Config.Format), accessLog.Written, accessLog.Dropped, accessLog.Failed, accessLog.Queued, accessLog.QueueSize),
            Process = ProcessFigures.Read(),
            Clusters = clusters,
            Routes = routes,
        };
    }
}

/// <summary>The build: Tether's version, the commit it was built from (when known) and the runtime.</summary>
internal sealed record BuildFigures(string Version, string? Commit, string Runtime)
{
    public static BuildFigures Read()
    {
        var assembly = typeof(TelemetrySnapshot).Assembly;
        var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "";
        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        var version = assembly.GetName().Version?.ToString(3) ?? "0.0.0";
        var commit = plus >= 0 ? informational[(plus + 1)..] : null;
        if (commit is { Length: > 12 })
        {
            commit = commit[..12];
        }

        return new BuildFigures(version, commit, Environment.Version.ToString());
    }
}

internal sealed record DownstreamFigures(
    long Active, long Writing, long Waiting, long Accepted, long Handled, long Requests, IReadOnlyList<(ProtectionCloseReason Reason, long Count)> Closed, long Reading);

internal sealed record RequestFigures(
    long Total, long InFlight, long NotFound, long Rejected, long ClientAborted, IReadOnlyList<(UpstreamPhase Phase, UpstreamErrorKind Kind, long Count)> UpstreamErrors);

internal sealed record OperationsFigures(bool Ready, bool Draining, bool RecycleActive, long Recycled, int RetiredClusters, ReloadResult? LastReload, long? ConfigRevision = null);

internal sealed record AccessLogFigures(string Path, string Format, long Written, long Dropped, long Failed, int Queued, int QueueSize);

/// <summary>One route's request durations, by method and status class ("" cluster and route: unrouted requests).</summary>
internal sealed record RouteFigures(string Cluster, string Route, IReadOnlyList<(string Method, string StatusClass, HistogramFigures Histogram)> Series);

/// <summary>A histogram's figures at one moment: the count in each bucket alone (the last above every bound).</summary>
internal sealed record HistogramFigures(IReadOnlyList<double> Bounds, long[] Buckets, double SumSeconds, double? MinSeconds)
{
    public long Count => Buckets.Sum();

    public static HistogramFigures Of(DurationHistogram histogram)
    {
        var buckets = new long[histogram.Bounds.Count + 1];
        for (var i = 0; i < buckets.Length; i++)
        {
            buckets[i] = histogram.BucketCount(i);
        }

        return new HistogramFigures(histogram.Bounds, buckets, histogram.Sum.TotalSeconds, histogram.Min?.TotalSeconds);
    }
}

internal sealed record ClusterFigures(string Name, string LoadBalancing, long RetryBudgetExhausted, int Draining, IReadOnlyList<DestinationFigures> Destinations, double IdleTimeoutSeconds = 0)
{
    public static ClusterFigures Of(string name, ClusterState cluster)
    {
        var now = cluster.TimeProvider.GetTimestamp();
        var destinations = new List<DestinationFigures>();
        foreach (var destination in cluster.Destinations)
        {
            destinations.Add(DestinationFigures.Of(destination, now));
        }

        return new ClusterFigures(name, cluster.Policy.Name, cluster.RetryBudget.Exhausted, cluster.Draining.Count, destinations, cluster.Config.Pool.IdleTimeout.TotalSeconds);
    }
}

internal sealed record Http2Figures(long Open, long Created, long Reused, long Closed, long ConnectFailures, long Streams, long StreamsInFlight, int MaxConcurrentStreams);

internal sealed record PoolFigures(
    int Idle, int Active, int Waiting, long Created, long Reused, long ConnectFailures, long QueueTimeouts,
    IReadOnlyList<(ConnectionCloseReason Reason, long Count)> Closed, double? LearnedIdleTimeoutSeconds,
    HistogramFigures IdleAgeAtReuse, HistogramFigures IdleAgeAtPeerClose);

internal sealed record DestinationFigures(
    string Name, string Health, double Weight, bool Available, long Ejections, int ConsecutiveFailures, int InFlight, long Picks, long Requests, long Failures,
    string Protocol, bool Tls, Http2Figures? Http2, PoolFigures Pool, HistogramFigures ExchangeDuration)
{
    public static DestinationFigures Of(DestinationState destination, long now)
    {
        var pool = destination.Pool;
        var s = pool.Statistics;
        var http2 = destination.Http2 is { } h
            ? new Http2Figures(h.Open, h.Created, h.Reused, h.Closed, h.ConnectFailures, h.Streams, h.StreamsInFlight, h.MaxConcurrentStreams)
            : null;
        var poolFigures = new PoolFigures(
            pool.IdleCount, pool.LeasedCount, pool.WaitingCount, s.Created, s.Reused, s.ConnectFailures, s.QueueTimeouts,
            [.. Enum.GetValues<ConnectionCloseReason>().Select(r => (r, s.Closed(r)))],
            pool.LearnedIdleTimeout?.TotalSeconds,
            HistogramFigures.Of(s.IdleAgeAtReuse), HistogramFigures.Of(s.IdleAgeAtPeerClose));
        return new DestinationFigures(
            destination.Name, Names.Camel(destination.Health.State(now)), destination.Health.EffectiveWeight(now), destination.IsAvailable(now),
            destination.Health.Ejections, destination.Health.ConsecutiveFailures, destination.InFlight, destination.Picks, destination.Requests, destination.Failures,
            Names.Camel(destination.Protocol), destination.Connector.Tls is not null, http2, poolFigures, HistogramFigures.Of(destination.ExchangeDuration));
    }
}

/// <summary>The process, as an operator checks it first when memory or CPU looks wrong.</summary>
internal sealed record ProcessFigures(
    double CpuSeconds, long ResidentBytes, long VirtualBytes, double StartTimeSeconds, int? OpenFileDescriptors, int? MaxFileDescriptors,
    long GcHeapBytes, long GcCommittedBytes, long AllocatedBytes, IReadOnlyList<int> Collections, double GcPauseSeconds,
    int ThreadPoolThreads, long ThreadPoolQueueLength, long ThreadPoolCompletedItems, bool ServerGC)
{
    public static ProcessFigures Read()
    {
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        var gc = GC.GetGCMemoryInfo();
        int? open = null;
        int? max = null;
        if (OperatingSystem.IsLinux())
        {
            try
            {
                open = Directory.EnumerateFileSystemEntries("/proc/self/fd").Count();
                max = MaxOpenFiles();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }

        return new ProcessFigures(
            process.TotalProcessorTime.TotalSeconds, process.WorkingSet64, process.VirtualMemorySize64,
            new DateTimeOffset(process.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0, open, max,
            GC.GetTotalMemory(false), gc.TotalCommittedBytes, GC.GetTotalAllocatedBytes(false),
            [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)], GC.GetTotalPauseDuration().TotalSeconds,
            ThreadPool.ThreadCount, ThreadPool.PendingWorkItemCount, ThreadPool.CompletedWorkItemCount, System.Runtime.GCSettings.IsServerGC);
    }

    // "Max open files  1048576  1048576  files" in /proc/self/limits: the soft limit.
    private static int? MaxOpenFiles()
    {
        foreach (var line in File.ReadLines("/proc/self/limits"))
        {
            if (line.StartsWith("Max open files", StringComparison.Ordinal))
            {
                var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return fields.Length > 0 && int.TryParse(fields[0], System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : null;
            }
        }

        return null;
    }
}
