using System.Globalization;
using System.Net;
using System.Text;
using Tether.Gateway.Observability;

namespace Tether.Gateway.Admin;

/// <summary>
/// The dashboard without JavaScript (/?view=table): the same figures as plain HTML tables, rendered here from one
/// <see cref="TelemetrySnapshot"/>, refreshed by the browser every 5 s. Every name and message is HTML-encoded.
/// </summary>
internal static class DashboardTable
{
    public static string Render(TelemetrySnapshot s)
    {
        var html = new StringBuilder(8 * 1024);
        html.Append("""
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5"><title>Tether: table view</title>
            <style>body{font:14px system-ui,sans-serif;margin:16px;color:#1d2330}table{border-collapse:collapse;margin:6px 0 18px}
            th,td{border:1px solid #d0d5dd;padding:3px 8px;text-align:right;font-variant-numeric:tabular-nums}th:first-child,td:first-child{text-align:left}
            th{background:#f2f4f7;font-weight:500}h2{font-size:16px;margin:14px 0 4px}</style></head><body>
            """);
        html.Append("<h1>Tether ").Append(E(TelemetrySnapshot.Build.Version)).Append("</h1><p>")
            .Append(s.Operations.Draining ? "draining" : s.Operations.Ready ? "ready" : "not ready")
            .Append(" · taken ").Append(E(s.At.ToString("u", CultureInfo.InvariantCulture))).Append(" · refreshes every 5 s · <a href=\"/\">live view</a></p>");

        var d = s.Downstream;
        var r = s.Requests;
        html.Append("<h2>Connections and requests</h2><table><tr><th>figure</th><th>value</th></tr>");
        Row(html, "connections active", d.Active);
        Row(html, "connections writing", d.Writing);
        Row(html, "connections waiting", d.Waiting);
        Row(html, "connections accepted", d.Accepted);
        Row(html, "requests total", r.Total);
        Row(html, "requests in flight", r.InFlight);
        Row(html, "not found (404)", r.NotFound);
        Row(html, "rejected (400)", r.Rejected);
        Row(html, "client aborted", r.ClientAborted);
        foreach (var (reason, count) in d.Closed.Where(c => c.Count > 0))
        {
            Row(html, "connections closed: " + Names.Camel(reason), count);
        }

        foreach (var (phase, kind, count) in r.UpstreamErrors)
        {
            Row(html, $"upstream errors: {Names.Camel(phase)}.{Names.Camel(kind)}", count);
        }

        Row(html, "access log written", s.AccessLog.Written);
        Row(html, "access log dropped", s.AccessLog.Dropped);
        html.Append("</table>");

        html.Append("<h2>Last reload</h2>");
        if (s.Operations.LastReload is { } reload)
        {
            html.Append("<p>").Append(reload.Ok ? "applied" : "rejected").Append(" · ").Append(E(reload.At.ToString("u", CultureInfo.InvariantCulture)))
                .Append(" · ").Append(E(reload.Trigger)).Append(" · ").Append(E(reload.Summary)).Append("</p>");
            if (reload.Errors.Count > 0)
            {
                html.Append("<ul>");
                foreach (var error in reload.Errors)
                {
                    html.Append("<li>").Append(E(error)).Append("</li>");
                }

                html.Append("</ul>");
            }
        }
        else
        {
            html.Append("<p>none since start</p>");
        }

        foreach (var cluster in s.Clusters)
        {
            html.Append("<h2>cluster ").Append(E(cluster.Name)).Append(" (").Append(E(cluster.LoadBalancing)).Append(")</h2><table><tr>");
            foreach (var title in new[] { "destination", "health", "in flight", "requests", "failures", "pool idle", "pool active", "waiting", "created", "reused", "reuse ratio",
                "learned idle timeout (s)", "closed by reason", "idle age at reuse", "idle age at backend close" })
            {
                html.Append("<th>").Append(title).Append("</th>");
            }

            html.Append("</tr>");
            foreach (var destination in cluster.Destinations)
            {
                var p = destination.Pool;
                var created = p.Created + (destination.Http2?.Created ?? 0);
                var reused = p.Reused + (destination.Http2?.Reused ?? 0);
                html.Append("<tr data-destination=\"").Append(E(destination.Name)).Append("\"><td>").Append(E(destination.Name)).Append("</td><td>").Append(E(destination.Health)).Append("</td>");
                Cell(html, destination.InFlight);
                Cell(html, destination.Requests);
                Cell(html, destination.Failures);
                Cell(html, p.Idle + (destination.Http2?.Open ?? 0));
                Cell(html, p.Active);
                Cell(html, p.Waiting);
                Cell(html, created);
                Cell(html, reused);
                html.Append("<td>").Append(created + reused > 0 ? (100.0 * reused / (created + reused)).ToString("0.0", CultureInfo.InvariantCulture) + " %" : "–").Append("</td>");
                html.Append("<td>").Append(p.LearnedIdleTimeoutSeconds is { } learned ? learned.ToString("0.###", CultureInfo.InvariantCulture) : "–").Append("</td>");
                html.Append("<td>").Append(E(string.Join(", ", p.Closed.Where(c => c.Count > 0).Select(c => $"{Names.Camel(c.Reason)} {c.Count}")))).Append("</td>");
                html.Append("<td>").Append(E(Buckets(p.IdleAgeAtReuse))).Append("</td><td>").Append(E(Buckets(p.IdleAgeAtPeerClose))).Append("</td></tr>");
            }

            html.Append("</table>");
        }

        html.Append("</body></html>");
        return html.ToString();
    }

    // "≤1s: 3, ≤5s: 1" over the non-empty buckets.
    private static string Buckets(HistogramFigures h)
    {
        var parts = new List<string>();
        for (var i = 0; i < h.Buckets.Length; i++)
        {
            if (h.Buckets[i] > 0)
            {
                var bound = i < h.Bounds.Count ? "≤" + h.Bounds[i].ToString(CultureInfo.InvariantCulture) + "s" : ">" + h.Bounds[^1].ToString(CultureInfo.InvariantCulture) + "s";
                parts.Add(bound + ": " + h.Buckets[i].ToString(CultureInfo.InvariantCulture));
            }
        }

        return parts.Count == 0 ? "none" : string.Join(", ", parts);
    }

    private static void Row(StringBuilder html, string name, long value) =>
        html.Append("<tr><td>").Append(E(name)).Append("</td><td>").Append(value.ToString(CultureInfo.InvariantCulture)).Append("</td></tr>");

    private static void Cell(StringBuilder html, long value) => html.Append("<td>").Append(value.ToString(CultureInfo.InvariantCulture)).Append("</td>");

    private static string E(string? text) => WebUtility.HtmlEncode(text ?? "");
}
