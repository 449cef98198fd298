using System.Globalization;
using System.Text.Json;
using Tether.Gateway.Observability;

namespace Tether.Gateway.Admin;

/// <summary>GET /status: a <see cref="TelemetrySnapshot"/> as JSON (nginx stub_status parity, per-destination pool
/// counters, request durations by route, the access log and the process).</summary>
internal static class StatusWriter
{
    public static Task WriteJsonAsync(Stream output, TetherGateway gateway, CancellationToken cancellationToken) =>
        WriteJsonAsync(output, TelemetrySnapshot.Take(gateway), cancellationToken);

    public static async Task WriteJsonAsync(Stream output, TelemetrySnapshot snapshot, CancellationToken cancellationToken)
    {
        await using var json = new Utf8JsonWriter(output, OperationsStatus.JsonOptions);
        var d = snapshot.Downstream;
        json.WriteStartObject();
        json.WriteString("version", TelemetrySnapshot.Build.Version);
        json.WriteString("commit", TelemetrySnapshot.Build.Commit);
        OperationsStatus.WriteJson(json, snapshot.Operations);
        json.WriteStartObject("connections");
        json.WriteNumber("active", d.Active);
        json.WriteNumber("reading", d.Reading);
        json.WriteNumber("writing", d.Writing);
        json.WriteNumber("waiting", d.Waiting);
        json.WriteNumber("accepted", d.Accepted);
        json.WriteNumber("handled", d.Handled);
        json.WriteStartObject("closed");
        foreach (var (reason, count) in d.Closed)
        {
            json.WriteNumber(Names.Camel(reason), count);
        }

        json.WriteEndObject();
        json.WriteEndObject();

        var r = snapshot.Requests;
        json.WriteStartObject("requests");
        json.WriteNumber("total", r.Total);
        json.WriteNumber("inFlight", r.InFlight);
        json.WriteNumber("notFound", r.NotFound);
        json.WriteNumber("rejected", r.Rejected);
        json.WriteNumber("clientAborted", r.ClientAborted);
        json.WriteStartObject("upstreamErrors");
        foreach (var (phase, kind, count) in r.UpstreamErrors)
        {
            json.WriteNumber($"{Names.Camel(phase)}.{Names.Camel(kind)}", count);
        }

        json.WriteEndObject();
        json.WriteEndObject();

        WriteRoutes(json, snapshot.Routes);
        WriteAccessLog(json, snapshot.AccessLog);
        WriteProcess(json, snapshot.Process);
        WriteClusters(json, snapshot.Clusters);
        json.WriteEndObject();
        await json.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static void WriteClusters(Utf8JsonWriter json, IReadOnlyList<ClusterFigures> clusters)
    {
        json.WriteStartObject("clusters");
        foreach (var cluster in clusters)
        {
            json.WriteStartObject(cluster.Name);
            json.WriteString("loadBalancing", cluster.LoadBalancing);
            json.WriteNumber("retryBudgetExhausted", cluster.RetryBudgetExhausted);
            json.WriteNumber("draining", cluster.Draining);

            // pool.idleTimeout: a backend keeps idle connections open longer than this (Tether.Server reads it).
            json.WriteNumber("idleTimeoutSeconds", Math.Round(cluster.IdleTimeoutSeconds, 3));
            json.WriteStartObject("destinations");
            foreach (var destination in cluster.Destinations)
            {
                json.WriteStartObject(destination.Name);
                json.WriteString("health", destination.Health);
                json.WriteNumber("weight", destination.Weight);
                json.WriteNumber("ejections", destination.Ejections);
                json.WriteNumber("consecutiveFailures", destination.ConsecutiveFailures);
                json.WriteNumber("inFlight", destination.InFlight);
                json.WriteNumber("picks", destination.Picks);
                json.WriteNumber("requests", destination.Requests);
                json.WriteNumber("failures", destination.Failures);
                json.WriteString("protocol", destination.Protocol);
                json.WriteBoolean("tls", destination.Tls);
                WriteHistogram(json, "exchangeDuration", destination.ExchangeDuration);
                if (destination.Http2 is { } http2)
                {
                    json.WriteStartObject("http2");
                    json.WriteNumber("open", http2.Open);
                    json.WriteNumber("created", http2.Created);
                    json.WriteNumber("reused", http2.Reused);
                    json.WriteNumber("closed", http2.Closed);
                    json.WriteNumber("connectFailures", http2.ConnectFailures);
                    json.WriteNumber("streams", http2.Streams);
                    json.WriteNumber("streamsInFlight", http2.StreamsInFlight);
                    json.WriteNumber("maxConcurrentStreams", http2.MaxConcurrentStreams);
                    json.WriteEndObject();
                }

                var pool = destination.Pool;
                json.WriteStartObject("pool");
                json.WriteNumber("idle", pool.Idle);
                json.WriteNumber("active", pool.Active);
                json.WriteNumber("waiting", pool.Waiting);
                json.WriteNumber("created", pool.Created);
                json.WriteNumber("reused", pool.Reused);
                json.WriteNumber("connectFailures", pool.ConnectFailures);
                json.WriteNumber("queueTimeouts", pool.QueueTimeouts);
                json.WriteStartObject("closed");
                foreach (var (reason, count) in pool.Closed)
                {
                    json.WriteNumber(Names.Camel(reason), count);
                }

                json.WriteEndObject();
                if (pool.LearnedIdleTimeoutSeconds is { } learned)
                {
                    json.WriteNumber("learnedIdleTimeoutSeconds", Math.Round(learned, 3));
                }
                else
                {
                    json.WriteNull("learnedIdleTimeoutSeconds");
                }

                WriteHistogram(json, "idleAgeAtReuse", pool.IdleAgeAtReuse);
                WriteHistogram(json, "idleAgeAtPeerClose", pool.IdleAgeAtPeerClose);
                json.WriteEndObject();
                json.WriteEndObject();
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        json.WriteEndObject();
    }

    // Per route: requests by status class, and their durations over every method and status.
    private static void WriteRoutes(Utf8JsonWriter json, IReadOnlyList<RouteFigures> routes)
    {
        json.WriteStartArray("routes");
        foreach (var route in routes)
        {
            json.WriteStartObject();
            json.WriteString("cluster", route.Cluster.Length == 0 ? null : route.Cluster);
            json.WriteString("route", route.Route.Length == 0 ? null : route.Route);
            json.WriteNumber("requests", route.Series.Sum(s => s.Histogram.Count));
            json.WriteStartObject("statusClasses");
            foreach (var statusClass in RouteStatistics.StatusClasses)
            {
                json.WriteNumber(statusClass, route.Series.Where(s => s.StatusClass == statusClass).Sum(s => s.Histogram.Count));
            }

            json.WriteEndObject();
            WriteHistogram(json, "duration", Merge(route.Series.Select(s => s.Histogram)));
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    private static HistogramFigures Merge(IEnumerable<HistogramFigures> histograms)
    {
        var bounds = Upstream.Pooling.DurationHistogram.LatencyBoundsSeconds;
        var buckets = new long[bounds.Count + 1];
        var sum = 0.0;
        double? min = null;
        foreach (var h in histograms)
        {
            for (var i = 0; i < buckets.Length; i++)
            {
                buckets[i] += h.Buckets[i];
            }

            sum += h.SumSeconds;
            min = h.MinSeconds is { } m && (min is null || m < min) ? m : min;
        }

        return new HistogramFigures(bounds, buckets, sum, min);
    }

    private static void WriteAccessLog(Utf8JsonWriter json, AccessLogFigures a)
    {
        json.WriteStartObject("accessLog");
        json.WriteString("path", a.Path);
        json.WriteString("format", a.Format);
        json.WriteNumber("written", a.Written);
        json.WriteNumber("dropped", a.Dropped);
        json.WriteNumber("failed", a.Failed);
        json.WriteNumber("queued", a.Queued);
        json.WriteNumber("queueSize", a.QueueSize);
        json.WriteEndObject();
    }

    // Histograms: { "count", "minSeconds" (null before the first), "buckets": { "<upper bound in seconds>": count in
    // that bucket alone, ..., "+Inf": count above the last bound } }.
    private static void WriteHistogram(Utf8JsonWriter json, string name, HistogramFigures histogram)
    {
        json.WriteStartObject(name);
        json.WriteNumber("count", histogram.Count);
        if (histogram.MinSeconds is { } min)
        {
            json.WriteNumber("minSeconds", Math.Round(min, 6));
        }
        else
        {
            json.WriteNull("minSeconds");
        }

        json.WriteStartObject("buckets");
        var bounds = histogram.Bounds;
        for (var i = 0; i < histogram.Buckets.Length; i++)
        {
            json.WriteNumber(i < bounds.Count ? bounds[i].ToString(CultureInfo.InvariantCulture) : "+Inf", histogram.Buckets[i]);
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    // Process figures: what an operator checks first when memory or CPU looks wrong, and what the benchmarks
    // read to compute bytes allocated and CPU time per request.
    private static void WriteProcess(Utf8JsonWriter json, ProcessFigures p)
    {
        json.WriteStartObject("process");
        json.WriteNumber("workingSetBytes", p.ResidentBytes);
        json.WriteNumber("gcHeapBytes", p.GcHeapBytes);
        json.WriteNumber("gcCommittedBytes", p.GcCommittedBytes);
        json.WriteNumber("allocatedBytes", p.AllocatedBytes);
        json.WriteNumber("gen0Collections", p.Collections[0]);
        json.WriteNumber("gen1Collections", p.Collections[1]);
        json.WriteNumber("gen2Collections", p.Collections[2]);
        json.WriteNumber("gcPauseMilliseconds", (long)(p.GcPauseSeconds * 1000));
        json.WriteNumber("cpuMilliseconds", (long)(p.CpuSeconds * 1000));
        json.WriteNumber("threadPoolThreads", p.ThreadPoolThreads);
        json.WriteNumber("threadPoolQueueLength", p.ThreadPoolQueueLength);
        if (p.OpenFileDescriptors is { } open)
        {
            json.WriteNumber("openFileDescriptors", open);
        }

        json.WriteBoolean("serverGC", p.ServerGC);
        json.WriteEndObject();
    }
}

internal static class Names
{
    public static string Camel<T>(T value)
        where T : struct, Enum
    {
        var s = value.ToString();
        return char.ToLowerInvariant(s[0]) + s[1..];
    }
}
