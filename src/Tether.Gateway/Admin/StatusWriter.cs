using System.Globalization;
using System.Text.Json;
using Tether.Upstream;
using Tether.Upstream.Pooling;

namespace Tether.Gateway.Admin;

/// <summary>GET /status: nginx stub_status parity plus per-destination pool counters.</summary>
internal static class StatusWriter
{
    public static async Task WriteJsonAsync(Stream output, TetherGateway gateway, CancellationToken cancellationToken)
    {
        await using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        var d = gateway.Downstream;
        json.WriteStartObject();
        json.WriteString("version", typeof(StatusWriter).Assembly.GetName().Version?.ToString(3));
        OperationsStatus.WriteJson(json, gateway);
        json.WriteStartObject("connections");
        json.WriteNumber("active", d.Active);
        json.WriteNumber("reading", 0);
        json.WriteNumber("writing", d.Writing);
        json.WriteNumber("waiting", d.Waiting);
        json.WriteNumber("accepted", d.Accepted);
        json.WriteNumber("handled", d.Handled);
        json.WriteStartObject("closed");
        foreach (var reason in Protection.ConnectionCloseCounters.Reasons)
        {
            json.WriteNumber(Names.Camel(reason), d.Closed[reason]);
        }

        json.WriteEndObject();
        json.WriteEndObject();

        json.WriteStartObject("requests");
        json.WriteNumber("total", d.Requests);
        json.WriteNumber("inFlight", d.Writing);
        json.WriteNumber("notFound", gateway.Counters.NotFound);
        json.WriteNumber("rejected", gateway.Counters.Rejected);
        json.WriteNumber("clientAborted", gateway.Counters.ClientAbortedCount);
        json.WriteStartObject("upstreamErrors");
        foreach (var phase in Enum.GetValues<UpstreamPhase>())
        {
            foreach (var kind in Enum.GetValues<UpstreamErrorKind>())
            {
                var n = gateway.Counters.Errors(phase, kind);
                if (n > 0)
                {
                    json.WriteNumber($"{Names.Camel(phase)}.{Names.Camel(kind)}", n);
                }
            }
        }

        json.WriteEndObject();
        json.WriteEndObject();

        WriteProcess(json);

        json.WriteStartObject("clusters");
        foreach (var (name, cluster) in gateway.Model.Clusters)
        {
            json.WriteStartObject(name);
            json.WriteString("loadBalancing", cluster.Policy.Name);
            json.WriteNumber("retryBudgetExhausted", cluster.RetryBudget.Exhausted);
            json.WriteNumber("draining", cluster.Draining.Count);
            var now = cluster.TimeProvider.GetTimestamp();
            json.WriteStartObject("destinations");
            foreach (var destination in cluster.Destinations)
            {
                var pool = destination.Pool;
                var s = pool.Statistics;
                json.WriteStartObject(destination.Name);
                json.WriteString("health", Names.Camel(destination.Health.State(now)));
                json.WriteNumber("weight", destination.Health.EffectiveWeight(now));
                json.WriteNumber("ejections", destination.Health.Ejections);
                json.WriteNumber("consecutiveFailures", destination.Health.ConsecutiveFailures);
                json.WriteNumber("inFlight", destination.InFlight);
                json.WriteNumber("picks", destination.Picks);
                json.WriteNumber("requests", destination.Requests);
                json.WriteNumber("failures", destination.Failures);
                json.WriteString("protocol", Names.Camel(destination.Protocol));
                json.WriteBoolean("tls", destination.Connector.Tls is not null);
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

                json.WriteStartObject("pool");
                json.WriteNumber("idle", pool.IdleCount);
                json.WriteNumber("active", pool.LeasedCount);
                json.WriteNumber("waiting", pool.WaitingCount);
                json.WriteNumber("created", s.Created);
                json.WriteNumber("reused", s.Reused);
                json.WriteNumber("connectFailures", s.ConnectFailures);
                json.WriteNumber("queueTimeouts", s.QueueTimeouts);
                json.WriteStartObject("closed");
                foreach (var reason in Enum.GetValues<ConnectionCloseReason>())
                {
                    json.WriteNumber(Names.Camel(reason), s.Closed(reason));
                }

                json.WriteEndObject();
                if (pool.LearnedIdleTimeout is { } learned)
                {
                    json.WriteNumber("learnedIdleTimeoutSeconds", Math.Round(learned.TotalSeconds, 3));
                }
                else
                {
                    json.WriteNull("learnedIdleTimeoutSeconds");
                }

                WriteHistogram(json, "idleAgeAtReuse", s.IdleAgeAtReuse);
                WriteHistogram(json, "idleAgeAtPeerClose", s.IdleAgeAtPeerClose);
                json.WriteEndObject();
                json.WriteEndObject();
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteEndObject();
        await json.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    // Reuse-race telemetry: { "count", "minSeconds" (null before the first), "buckets": { "<upper bound in
    // seconds>": count in that bucket alone, ..., "+Inf": count above the last bound } }.
    private static void WriteHistogram(Utf8JsonWriter json, string name, DurationHistogram histogram)
    {
        json.WriteStartObject(name);
        json.WriteNumber("count", histogram.Count);
        if (histogram.Min is { } min)
        {
            json.WriteNumber("minSeconds", Math.Round(min.TotalSeconds, 6));
        }
        else
        {
            json.WriteNull("minSeconds");
        }

        json.WriteStartObject("buckets");
        var bounds = DurationHistogram.UpperBoundsSeconds;
        for (var i = 0; i <= bounds.Count; i++)
        {
            json.WriteNumber(i < bounds.Count ? bounds[i].ToString(CultureInfo.InvariantCulture) : "+Inf", histogram.BucketCount(i));
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    // Process figures: what an operator checks first when memory or CPU looks wrong, and what the benchmarks
    // read to compute bytes allocated and CPU time per request.
    private static void WriteProcess(Utf8JsonWriter json)
    {
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        var gc = GC.GetGCMemoryInfo();
        json.WriteStartObject("process");
        json.WriteNumber("workingSetBytes", process.WorkingSet64);
        json.WriteNumber("gcHeapBytes", GC.GetTotalMemory(false));
        json.WriteNumber("gcCommittedBytes", gc.TotalCommittedBytes);
        json.WriteNumber("allocatedBytes", GC.GetTotalAllocatedBytes(false));
        json.WriteNumber("gen0Collections", GC.CollectionCount(0));
        json.WriteNumber("gen1Collections", GC.CollectionCount(1));
        json.WriteNumber("gen2Collections", GC.CollectionCount(2));
        json.WriteNumber("gcPauseMilliseconds", (long)GC.GetTotalPauseDuration().TotalMilliseconds);
        json.WriteNumber("cpuMilliseconds", (long)process.TotalProcessorTime.TotalMilliseconds);
        json.WriteNumber("threadPoolThreads", ThreadPool.ThreadCount);
        json.WriteBoolean("serverGC", System.Runtime.GCSettings.IsServerGC);
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
