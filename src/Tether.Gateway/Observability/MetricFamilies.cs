using Tether.Gateway.Admin;

namespace Tether.Gateway.Observability;

internal enum MetricType
{
    Counter,
    Gauge,
    Histogram,
}

/// <summary>One sample of a family: label values in the family's label order, and the value.</summary>
internal readonly record struct MetricSample(string[] Labels, double Value);

/// <summary>One histogram series of a family: label values in the family's label order, and its figures.</summary>
internal readonly record struct HistogramSample(string[] Labels, HistogramFigures Figures);

/// <summary>A metric as Prometheus names it: <c>tether_…</c>, base units (seconds, bytes), counters ending in _total.</summary>
internal sealed class MetricFamily(string name, MetricType type, string help, params string[] labels)
{
    public string Name { get; } = name;

    public MetricType Type { get; } = type;

    public string Help { get; } = help;

    public IReadOnlyList<string> Labels { get; } = labels;

    public List<MetricSample> Samples { get; } = [];

    public List<HistogramSample> Histograms { get; } = [];

    public MetricFamily Add(double value, params string[] labels)
    {
        Samples.Add(new MetricSample(labels, value));
        return this;
    }

    public MetricFamily Add(HistogramFigures figures, params string[] labels)
    {
        Histograms.Add(new HistogramSample(labels, figures));
        return this;
    }
}

/// <summary>
/// A <see cref="TelemetrySnapshot"/> as metric families: what /metrics writes (<see cref="PrometheusWriter"/>) and
/// what the <c>Tether</c> meter's observable instruments report. Every family is always present, with no sample
/// when there is nothing to report yet, so the set of names does not depend on the traffic.
/// </summary>
internal static class MetricFamilies
{
    public static List<MetricFamily> From(TelemetrySnapshot snapshot)
    {
        var families = new List<MetricFamily>();
        MetricFamily Family(string name, MetricType type, string help, params string[] labels)
        {
            var family = new MetricFamily(name, type, help, labels);
            families.Add(family);
            return family;
        }

        var build = TelemetrySnapshot.Build;
        Family("tether_build_info", MetricType.Gauge, "Always 1; the labels name the build: Tether's version, its commit and the .NET runtime.", "version", "commit", "runtime")
            .Add(1, build.Version, build.Commit ?? "", build.Runtime);

        var d = snapshot.Downstream;
        Family("tether_connections_active", MetricType.Gauge, "Client connections open now.").Add(d.Active);
        Family("tether_connections_reading", MetricType.Gauge, "Client connections receiving a request head (engine \"tether\").").Add(d.Reading);
        Family("tether_connections_writing", MetricType.Gauge, "Client connections with a request in progress.").Add(d.Writing);
        Family("tether_connections_waiting", MetricType.Gauge, "Idle keep-alive client connections.").Add(d.Waiting);
        Family("tether_connections_accepted_total", MetricType.Counter, "Client connections accepted.").Add(d.Accepted);
        Family("tether_connections_handled_total", MetricType.Counter, "Client connections handled.").Add(d.Handled);
        var closed = Family("tether_connections_closed_total", MetricType.Counter, "Client connections closed by a protection, by reason.", "reason");
        foreach (var (reason, count) in d.Closed)
        {
            closed.Add(count, Names.Camel(reason));
        }

        var r = snapshot.Requests;
        Family("tether_requests_total", MetricType.Counter, "Requests received.").Add(r.Total);
        Family("tether_requests_rejected_total", MetricType.Counter, "Requests refused as malformed (or CONNECT) before any backend.").Add(r.Rejected);
        Family("tether_requests_not_found_total", MetricType.Counter, "Requests no route matched (404).").Add(r.NotFound);
        Family("tether_requests_client_aborted_total", MetricType.Counter, "Requests the client went away from (or whose body it broke) before their end.").Add(r.ClientAborted);
        var duration = Family("tether_request_duration_seconds", MetricType.Histogram,
            "Requests by how long they took in Tether, from their start to their end (OpenTelemetry http.server.request.duration), by cluster, route, method and status class; cluster and route are empty for requests no route took.",
            "cluster", "route", "method", "status_class");
        foreach (var route in snapshot.Routes)
        {
            foreach (var (method, statusClass, histogram) in route.Series)
            {
                duration.Add(histogram, route.Cluster, route.Route, method, statusClass);
            }
        }

        var errors = Family("tether_upstream_errors_total", MetricType.Counter, "Upstream failures by phase and cause.", "phase", "cause");
        foreach (var (phase, kind, count) in r.UpstreamErrors)
        {
            errors.Add(count, Names.Camel(phase), Names.Camel(kind));
        }

        var o = snapshot.Operations;
        Family("tether_ready", MetricType.Gauge, "1 while the gateway takes new connections, 0 once draining.").Add(o.Ready ? 1 : 0);
        Family("tether_recycled_connections_total", MetricType.Counter, "Client connections closed to rebalance after a destination change.").Add(o.Recycled);
        Family("tether_retired_clusters", MetricType.Gauge, "Clusters a reload replaced that still finish requests.").Add(o.RetiredClusters);
        var reloadOk = Family("tether_last_reload_ok", MetricType.Gauge, "1 if the last reload was applied, 0 if it was rejected; no sample before the first reload.");
        var reloadAt = Family("tether_last_reload_timestamp_seconds", MetricType.Gauge, "When the last reload was attempted (Unix time); no sample before the first reload.");
        if (o.LastReload is { } reload)
        {
            reloadOk.Add(reload.Ok ? 1 : 0);
            reloadAt.Add(reload.At.ToUnixTimeSeconds());
        }

        var a = snapshot.AccessLog;
        Family("tether_access_log_lines_total", MetricType.Counter, "Access-log lines written.").Add(a.Written);
        Family("tether_access_log_lines_dropped_total", MetricType.Counter,
            "Access-log lines lost: the queue was full (the sink did not keep up; requests never wait for it) or the write failed.", "reason")
            .Add(a.Dropped, "queueFull").Add(a.Failed, "writeError");
        Family("tether_access_log_queue_lines", MetricType.Gauge, "Access-log lines waiting to be written.").Add(a.Queued);

        AddUpstream(snapshot, Family);
        AddProcess(snapshot.Process, Family);
        return families;
    }

    private static void AddUpstream(TelemetrySnapshot snapshot, Func<string, MetricType, string, string[], MetricFamily> family)
    {
        var series = new (string Name, MetricType Type, string Help, Func<DestinationFigures, double> Value)[]
        {
            ("tether_upstream_in_flight", MetricType.Gauge, "Requests in progress to a destination.", x => x.InFlight),
            ("tether_upstream_picks_total", MetricType.Counter, "Requests for which the policy ranked a destination first.", x => x.Picks),
            ("tether_upstream_available", MetricType.Gauge, "1 if a destination takes traffic now (not ejected, not failing probes), else 0.", x => x.Available ? 1 : 0),
            ("tether_upstream_ejections_total", MetricType.Counter, "Times passive health ejected a destination.", x => x.Ejections),
            ("tether_upstream_requests_total", MetricType.Counter, "Requests sent to a destination.", x => x.Requests),
            ("tether_upstream_failures_total", MetricType.Counter, "Requests to a destination that failed.", x => x.Failures),
            ("tether_upstream_pool_idle", MetricType.Gauge, "Idle pooled connections.", x => x.Pool.Idle),
            ("tether_upstream_pool_active", MetricType.Gauge, "Pooled connections carrying a request.", x => x.Pool.Active),
            ("tether_upstream_pool_waiting", MetricType.Gauge, "Requests waiting for a connection at the cap.", x => x.Pool.Waiting),
            ("tether_upstream_connections_created_total", MetricType.Counter, "Upstream connections opened (HTTP/1.1 and HTTP/2).", x => x.Pool.Created + (x.Http2?.Created ?? 0)),
            ("tether_upstream_connections_reused_total", MetricType.Counter, "Requests that reused an open connection (HTTP/2: streams after each connection's first).",
                x => x.Pool.Reused + (x.Http2?.Reused ?? 0)),
            ("tether_upstream_connect_failures_total", MetricType.Counter, "Failed connection attempts.", x => x.Pool.ConnectFailures + (x.Http2?.ConnectFailures ?? 0)),
            ("tether_upstream_queue_timeouts_total", MetricType.Counter, "Requests that waited for a connection at the cap longer than pool.queueTimeout.", x => x.Pool.QueueTimeouts),
            ("tether_upstream_http2_connections_open", MetricType.Gauge, "Open HTTP/2 connections to a destination.", x => x.Http2?.Open ?? 0),
            ("tether_upstream_http2_connections_closed_total", MetricType.Counter, "HTTP/2 connections closed (idle, lifetime, GOAWAY, missed PING, error).", x => x.Http2?.Closed ?? 0),
            ("tether_upstream_http2_streams_total", MetricType.Counter, "Requests sent as HTTP/2 streams.", x => x.Http2?.Streams ?? 0),
            ("tether_upstream_http2_streams_in_flight", MetricType.Gauge, "HTTP/2 streams open now.", x => x.Http2?.StreamsInFlight ?? 0),
            ("tether_upstream_learned_idle_timeout_seconds", MetricType.Gauge, "The idle timeout learned from the backend's closes (pool.learnIdleTimeout); 0 until one is learned.",
                x => x.Pool.LearnedIdleTimeoutSeconds ?? 0),
        };
        foreach (var (name, type, help, value) in series)
        {
            var f = family(name, type, help, ["cluster", "destination"]);
            foreach (var cluster in snapshot.Clusters)
            {
                foreach (var destination in cluster.Destinations)
                {
                    f.Add(value(destination), cluster.Name, destination.Name);
                }
            }
        }

        var budget = family("tether_upstream_retry_budget_exhausted_total", MetricType.Counter, "Retries refused because the cluster's retry budget was spent.", ["cluster"]);
        foreach (var cluster in snapshot.Clusters)
        {
            budget.Add(cluster.RetryBudgetExhausted, cluster.Name);
        }

        var closed = family("tether_upstream_connections_closed_total", MetricType.Counter, "Upstream connections closed, by reason.", ["cluster", "destination", "reason"]);
        var exchange = family("tether_upstream_exchange_duration_seconds", MetricType.Histogram,
            "Attempts at a destination by how long they took, from asking for a connection to the last response byte (a tunnel: to its end); retries are attempts of their own.",
            ["cluster", "destination"]);
        var reuse = family("tether_upstream_idle_age_at_reuse_seconds", MetricType.Histogram, "How long a pooled connection had been idle when a request reused it.", ["cluster", "destination"]);
        var peerClose = family("tether_upstream_idle_age_at_peer_close_seconds", MetricType.Histogram,
            "How long a pooled connection had been idle when it was found closed by the backend (before reuse, or by the 1 s sweep).", ["cluster", "destination"]);
        foreach (var cluster in snapshot.Clusters)
        {
            foreach (var destination in cluster.Destinations)
            {
                foreach (var (reason, count) in destination.Pool.Closed)
                {
                    closed.Add(count, cluster.Name, destination.Name, Names.Camel(reason));
                }

                exchange.Add(destination.ExchangeDuration, cluster.Name, destination.Name);
                reuse.Add(destination.Pool.IdleAgeAtReuse, cluster.Name, destination.Name);
                peerClose.Add(destination.Pool.IdleAgeAtPeerClose, cluster.Name, destination.Name);
            }
        }
    }

    // The names Prometheus client libraries use (process_*), and the runtime's under dotnet_*.
    private static void AddProcess(ProcessFigures p, Func<string, MetricType, string, string[], MetricFamily> family)
    {
        family("process_cpu_seconds_total", MetricType.Counter, "User and system CPU time spent by the process.", []).Add(p.CpuSeconds);
        family("process_resident_memory_bytes", MetricType.Gauge, "Resident memory size (RSS).", []).Add(p.ResidentBytes);
        family("process_virtual_memory_bytes", MetricType.Gauge, "Virtual memory size.", []).Add(p.VirtualBytes);
        family("process_start_time_seconds", MetricType.Gauge, "When the process started (Unix time).", []).Add(p.StartTimeSeconds);
        var open = family("process_open_fds", MetricType.Gauge, "Open file descriptors (sockets included).", []);
        var max = family("process_max_fds", MetricType.Gauge, "The limit of open file descriptors (RLIMIT_NOFILE, soft).", []);
        if (p.OpenFileDescriptors is { } n)
        {
            open.Add(n);
        }

        if (p.MaxFileDescriptors is { } m)
        {
            max.Add(m);
        }

        var collections = family("dotnet_gc_collections_total", MetricType.Counter, "Garbage collections, by generation (a gen 1 collection also collects gen 0).", ["generation"]);
        for (var g = 0; g < p.Collections.Count; g++)
        {
            collections.Add(p.Collections[g], g switch { 0 => "gen0", 1 => "gen1", _ => "gen2" });
        }

        family("dotnet_gc_heap_bytes", MetricType.Gauge, "Bytes the managed heap holds now (live objects and garbage not collected yet).", []).Add(p.GcHeapBytes);
        family("dotnet_gc_committed_bytes", MetricType.Gauge, "Memory the GC has committed for the managed heap.", []).Add(p.GcCommittedBytes);
        family("dotnet_gc_allocated_bytes_total", MetricType.Counter, "Bytes allocated on the managed heap since start.", []).Add(p.AllocatedBytes);
        family("dotnet_gc_pause_seconds_total", MetricType.Counter, "Time the GC held every managed thread, since start.", []).Add(p.GcPauseSeconds);
        family("dotnet_threadpool_threads", MetricType.Gauge, "Thread-pool threads now.", []).Add(p.ThreadPoolThreads);
        family("dotnet_threadpool_queue_length", MetricType.Gauge, "Work items queued to the thread pool, not started yet.", []).Add(p.ThreadPoolQueueLength);
        family("dotnet_threadpool_completed_items_total", MetricType.Counter, "Work items the thread pool has run since start.", []).Add(p.ThreadPoolCompletedItems);
    }
}
