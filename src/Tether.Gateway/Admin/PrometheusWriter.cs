using System.Globalization;
using System.Text;
using Tether.Upstream;
using Tether.Upstream.Pooling;

namespace Tether.Gateway.Admin;

/// <summary>GET /metrics: the /status figures in Prometheus text exposition format.</summary>
internal static class PrometheusWriter
{
    public static string Write(TetherGateway gateway)
    {
        var sb = new StringBuilder(4096);
        var d = gateway.Downstream;
        Gauge(sb, "tether_connections_active", "Client connections open now.", d.Active);
        Gauge(sb, "tether_connections_writing", "Client connections with a request in progress.", d.Writing);
        Gauge(sb, "tether_connections_waiting", "Idle keep-alive client connections.", d.Waiting);
        Counter(sb, "tether_connections_accepted_total", "Client connections accepted.", d.Accepted);
        Counter(sb, "tether_connections_handled_total", "Client connections handled.", d.Handled);
        Counter(sb, "tether_requests_total", "Requests received.", d.Requests);
        Counter(sb, "tether_requests_rejected_total", "Requests refused as malformed (or CONNECT) before any backend.", gateway.Counters.Rejected);
        OperationsStatus.WritePrometheus(sb, gateway);
        Header(sb, "tether_connections_closed_total", "counter", "Client connections closed by a protection, by reason.");
        foreach (var reason in Protection.ConnectionCloseCounters.Reasons)
        {
            sb.Append(CultureInfo.InvariantCulture, $"tether_connections_closed_total{{reason=\"{Names.Camel(reason)}\"}} {d.Closed[reason]}\n");
        }


        Header(sb, "tether_upstream_errors_total", "counter", "Upstream failures by phase and cause.");
        foreach (var phase in Enum.GetValues<UpstreamPhase>())
        {
            foreach (var kind in Enum.GetValues<UpstreamErrorKind>())
            {
                var n = gateway.Counters.Errors(phase, kind);
                if (n > 0)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"tether_upstream_errors_total{{phase=\"{Names.Camel(phase)}\",cause=\"{Names.Camel(kind)}\"}} {n}\n");
                }
            }
        }

        var series = new (string Name, string Type, string Help, Func<Upstream.Destinations.DestinationState, long> Value)[]
        {
            ("tether_upstream_in_flight", "gauge", "Requests in progress to a destination.", x => x.InFlight),
            ("tether_upstream_picks_total", "counter", "Requests for which the policy ranked a destination first.", x => x.Picks),
            ("tether_upstream_available", "gauge", "1 if a destination takes traffic now (not ejected, not failing probes), else 0.", x => x.IsAvailable(x.Health.Timestamp) ? 1 : 0),
            ("tether_upstream_ejections_total", "counter", "Times passive health ejected a destination.", x => x.Health.Ejections),
            ("tether_upstream_requests_total", "counter", "Requests sent to a destination.", x => x.Requests),
            ("tether_upstream_failures_total", "counter", "Requests to a destination that failed.", x => x.Failures),
            ("tether_upstream_pool_idle", "gauge", "Idle pooled connections.", x => x.Pool.IdleCount),
            ("tether_upstream_pool_active", "gauge", "Pooled connections carrying a request.", x => x.Pool.LeasedCount),
            ("tether_upstream_pool_waiting", "gauge", "Requests waiting for a connection at the cap.", x => x.Pool.WaitingCount),
            ("tether_upstream_connections_created_total", "counter", "Upstream connections opened (HTTP/1.1 and HTTP/2).", x => x.Pool.Statistics.Created + (x.Http2?.Created ?? 0)),
            ("tether_upstream_connections_reused_total", "counter", "Requests that reused an open connection (HTTP/2: streams after each connection's first).",
                x => x.Pool.Statistics.Reused + (x.Http2?.Reused ?? 0)),
            ("tether_upstream_connect_failures_total", "counter", "Failed connection attempts.", x => x.Pool.Statistics.ConnectFailures + (x.Http2?.ConnectFailures ?? 0)),
            ("tether_upstream_http2_connections_open", "gauge", "Open HTTP/2 connections to a destination.", x => x.Http2?.Open ?? 0),
            ("tether_upstream_http2_connections_closed_total", "counter", "HTTP/2 connections closed (idle, lifetime, GOAWAY, missed PING, error).", x => x.Http2?.Closed ?? 0),
            ("tether_upstream_http2_streams_total", "counter", "Requests sent as HTTP/2 streams.", x => x.Http2?.Streams ?? 0),
            ("tether_upstream_http2_streams_in_flight", "gauge", "HTTP/2 streams open now.", x => x.Http2?.StreamsInFlight ?? 0),
            ("tether_upstream_learned_idle_timeout_milliseconds", "gauge", "The idle timeout learned from the backend's closes (pool.learnIdleTimeout); 0 until one is learned.",
                x => (long)(x.Pool.LearnedIdleTimeout?.TotalMilliseconds ?? 0)),
        };
        foreach (var (name, type, help, value) in series)
        {
            Header(sb, name, type, help);
            foreach (var cluster in gateway.Model.Clusters.Values)
            {
                foreach (var destination in cluster.Destinations)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"{name}{{cluster=\"{Escape(cluster.Name)}\",destination=\"{Escape(destination.Name)}\"}} {value(destination)}\n");
                }
            }
        }

        Header(sb, "tether_upstream_retry_budget_exhausted_total", "counter", "Retries refused because the cluster's retry budget was spent.");
        foreach (var cluster in gateway.Model.Clusters.Values)
        {
            sb.Append(CultureInfo.InvariantCulture, $"tether_upstream_retry_budget_exhausted_total{{cluster=\"{Escape(cluster.Name)}\"}} {cluster.RetryBudget.Exhausted}\n");
        }

        Header(sb, "tether_upstream_connections_closed_total", "counter", "Upstream connections closed, by reason.");
        foreach (var cluster in gateway.Model.Clusters.Values)
        {
            foreach (var destination in cluster.Destinations)
            {
                foreach (var reason in Enum.GetValues<ConnectionCloseReason>())
                {
                    sb.Append(CultureInfo.InvariantCulture,
                        $"tether_upstream_connections_closed_total{{cluster=\"{Escape(cluster.Name)}\",destination=\"{Escape(destination.Name)}\",reason=\"{Names.Camel(reason)}\"}} {destination.Pool.Statistics.Closed(reason)}\n");
                }
            }
        }

        Histogram(sb, gateway, "tether_upstream_idle_age_at_reuse_seconds",
            "How long a pooled connection had been idle when a request reused it.", s => s.IdleAgeAtReuse);
        Histogram(sb, gateway, "tether_upstream_idle_age_at_peer_close_seconds",
            "How long a pooled connection had been idle when it was found closed by the backend (before reuse, or by the 1 s sweep).",
            s => s.IdleAgeAtPeerClose);
        return sb.ToString();
    }

    private static void Histogram(StringBuilder sb, TetherGateway gateway, string name, string help, Func<PoolStatistics, DurationHistogram> pick)
    {
        Header(sb, name, "histogram", help);
        var bounds = DurationHistogram.UpperBoundsSeconds;
        foreach (var cluster in gateway.Model.Clusters.Values)
        {
            foreach (var destination in cluster.Destinations)
            {
                var h = pick(destination.Pool.Statistics);
                var labels = $"cluster=\"{Escape(cluster.Name)}\",destination=\"{Escape(destination.Name)}\"";
                long cumulative = 0;
                for (var i = 0; i <= bounds.Count; i++)
                {
                    cumulative += h.BucketCount(i);
                    var le = i < bounds.Count ? bounds[i].ToString(CultureInfo.InvariantCulture) : "+Inf";
                    sb.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}\n");
                }

                sb.Append(CultureInfo.InvariantCulture, $"{name}_sum{{{labels}}} {h.Sum.TotalSeconds.ToString("0.######", CultureInfo.InvariantCulture)}\n");
                sb.Append(CultureInfo.InvariantCulture, $"{name}_count{{{labels}}} {cumulative}\n");
            }
        }
    }

    private static void Gauge(StringBuilder sb, string name, string help, long value)
    {
        Header(sb, name, "gauge", help);
        sb.Append(CultureInfo.InvariantCulture, $"{name} {value}\n");
    }

    private static void Counter(StringBuilder sb, string name, string help, long value)
    {
        Header(sb, name, "counter", help);
        sb.Append(CultureInfo.InvariantCulture, $"{name} {value}\n");
    }

    private static void Header(StringBuilder sb, string name, string type, string help) =>
        sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n");

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
}
