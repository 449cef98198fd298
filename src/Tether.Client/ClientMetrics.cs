using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Tether.Upstream.Pooling;

namespace Tether.Client;

/// <summary>
/// The <c>Tether.Client</c> meter (OpenTelemetry: <c>AddMeter("Tether.Client")</c>). Created and reused connections
/// and the idle age at reuse are recorded as they happen; closes, which the pools make on their own (sweeps, probes,
/// the idle cap), are read from every live pool's counters, plus what the pools already let go had counted.
/// </summary>
internal static class ClientMetrics
{
    public const string MeterName = "Tether.Client";

    private static readonly Meter s_meter = new(MeterName, typeof(ClientMetrics).Assembly.GetName().Version?.ToString());

    private static readonly Counter<long> s_created = s_meter.CreateCounter<long>(
        "tether.client.connections.created", "{connection}", "Connections opened (a request found no idle one to reuse).");

    private static readonly Counter<long> s_reused = s_meter.CreateCounter<long>(
        "tether.client.connections.reused", "{connection}", "Requests sent on a pooled connection that had carried one before.");

    private static readonly Histogram<double> s_idleAgeAtReuse = s_meter.CreateHistogram<double>(
        "tether.client.connections.idle_age_at_reuse", "s", "How long each reused connection had been idle when a request took it.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [.. DurationHistogram.UpperBoundsSeconds] });

    private static readonly ConnectionCloseReason[] s_reasons = Enum.GetValues<ConnectionCloseReason>();
    private static readonly string[] s_reasonNames = [.. s_reasons.Select(r => char.ToLowerInvariant(r.ToString()[0]) + r.ToString()[1..])];

    // Pools alive now; their counts are read on collection. Those retired (host forgotten, handler disposed) leave
    // their counts in s_retiredClosed, so the counter never goes down.
    private static readonly ConcurrentDictionary<ConnectionPool<Tether.Upstream.Http1.Http1Connection>, byte> s_live = new();
    private static readonly long[] s_retiredClosed = new long[s_reasons.Length];

    static ClientMetrics()
    {
        s_meter.CreateObservableCounter("tether.client.connections.closed", ObserveClosed, "{connection}",
            "Connections closed, by reason (idleTimeout, maxLifetime, maxRequests, serverClose, peerClosed, poolFull, error, …).");
    }

    // idleSinceTimestamp: when a reused connection went idle (time's timestamp), read only when the idle-age histogram
    // is listened to (no clock read per request otherwise).
    public static void OnConnection(bool reused, long idleSinceTimestamp, TimeProvider time, string host, int port)
    {
        if (reused)
        {
            if (s_reused.Enabled)
            {
                s_reused.Add(1, new("server.address", host), new("server.port", port));
            }

            if (s_idleAgeAtReuse.Enabled)
            {
                s_idleAgeAtReuse.Record(time.GetElapsedTime(idleSinceTimestamp).TotalSeconds, new KeyValuePair<string, object?>("server.address", host), new("server.port", port));
            }
        }
        else if (s_created.Enabled)
        {
            s_created.Add(1, new("server.address", host), new("server.port", port));
        }
    }

    /// <summary>An HTTP/2 stream started: on a connection already open (reused), or on one opened for it.</summary>
    public static void OnStream(bool reused, string host, int port)
    {
        var counter = reused ? s_reused : s_created;
        if (counter.Enabled)
        {
            counter.Add(1, new("server.address", host), new("server.port", port));
        }
    }

    public static void Track(ConnectionPool<Tether.Upstream.Http1.Http1Connection> pool) => s_live.TryAdd(pool, 0);

    /// <summary>The pool is being let go: its close counts move to the retired totals.</summary>
    public static void Retire(ConnectionPool<Tether.Upstream.Http1.Http1Connection> pool)
    {
        if (!s_live.TryRemove(pool, out _))
        {
            return;
        }

        for (var i = 0; i < s_reasons.Length; i++)
        {
            Interlocked.Add(ref s_retiredClosed[i], pool.Statistics.Closed(s_reasons[i]));
        }
    }

    private static IEnumerable<Measurement<long>> ObserveClosed()
    {
        var totals = new long[s_reasons.Length];
        for (var i = 0; i < totals.Length; i++)
        {
            totals[i] = Volatile.Read(ref s_retiredClosed[i]);
        }

        foreach (var pool in s_live.Keys)
        {
            for (var i = 0; i < totals.Length; i++)
            {
                totals[i] += pool.Statistics.Closed(s_reasons[i]);
            }
        }

        var measurements = new Measurement<long>[totals.Length];
        for (var i = 0; i < totals.Length; i++)
        {
            measurements[i] = new Measurement<long>(totals[i], new KeyValuePair<string, object?>("reason", s_reasonNames[i]));
        }

        return measurements;
    }
}
