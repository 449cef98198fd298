using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tether.Doctor.Reporting;

/// <summary>The same report as JSON for scripts: sections, tables, checks (verdicts as lower-case strings) and totals.</summary>
public static class JsonReportWriter
{
    private static readonly JsonSerializerOptions _options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static void Write(DoctorReport report, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(output);
        var document = new
        {
            report.Subject,
            Summary = new { report.Passed, report.Warnings, report.Failures, report.ExitCode },
            report.Sections,
        };
        output.WriteLine(JsonSerializer.Serialize(document, _options));
    }
}
