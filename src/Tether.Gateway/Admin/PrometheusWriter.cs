using System.Globalization;
using System.Text;
using Tether.Gateway.Observability;

namespace Tether.Gateway.Admin;

/// <summary>GET /metrics: a <see cref="TelemetrySnapshot"/>'s <see cref="MetricFamilies"/> in the Prometheus text
/// exposition format (0.0.4), clean under <c>promtool check metrics</c>.</summary>
internal static class PrometheusWriter
{
    public static string Write(TetherGateway gateway) => Write(MetricFamilies.From(TelemetrySnapshot.Take(gateway)));

    public static string Write(IReadOnlyList<MetricFamily> families)
    {
        var sb = new StringBuilder(16 * 1024);
        foreach (var family in families)
        {
            var type = family.Type switch { MetricType.Counter => "counter", MetricType.Gauge => "gauge", _ => "histogram" };
            sb.Append(CultureInfo.InvariantCulture, $"# HELP {family.Name} {EscapeHelp(family.Help)}\n# TYPE {family.Name} {type}\n");
            foreach (var sample in family.Samples)
            {
                sb.Append(family.Name);
                Labels(sb, family.Labels, sample.Labels, le: null);
                sb.Append(' ').Append(Number(sample.Value)).Append('\n');
            }

            foreach (var histogram in family.Histograms)
            {
                var figures = histogram.Figures;
                long cumulative = 0;
                for (var i = 0; i < figures.Buckets.Length; i++)
                {
                    cumulative += figures.Buckets[i];
                    sb.Append(family.Name).Append("_bucket");
                    Labels(sb, family.Labels, histogram.Labels, i < figures.Bounds.Count ? figures.Bounds[i].ToString(CultureInfo.InvariantCulture) : "+Inf");
                    sb.Append(' ').Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
                }

                sb.Append(family.Name).Append("_sum");
                Labels(sb, family.Labels, histogram.Labels, le: null);
                sb.Append(' ').Append(figures.SumSeconds.ToString("0.######", CultureInfo.InvariantCulture)).Append('\n');
                sb.Append(family.Name).Append("_count");
                Labels(sb, family.Labels, histogram.Labels, le: null);
                sb.Append(' ').Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
            }
        }

        return sb.ToString();
    }

    private static void Labels(StringBuilder sb, IReadOnlyList<string> names, string[] values, string? le)
    {
        if (names.Count == 0 && le is null)
        {
            return;
        }

        sb.Append('{');
        for (var i = 0; i < names.Count; i++)
        {
            sb.Append(names[i]).Append("=\"").Append(EscapeLabel(values[i])).Append("\",");
        }

        if (le is not null)
        {
            sb.Append("le=\"").Append(le).Append("\",");
        }

        sb.Length--;
        sb.Append('}');
    }

    private static string Number(double value) =>
        value == Math.Floor(value) && Math.Abs(value) < 1e15 ? ((long)value).ToString(CultureInfo.InvariantCulture) : value.ToString("R", CultureInfo.InvariantCulture);

    private static string EscapeLabel(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string EscapeHelp(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
