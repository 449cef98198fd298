namespace Tether.Doctor.Reporting;

/// <summary>A group of checks with the tables that explain them.</summary>
public sealed record ReportSection(string Title, IReadOnlyList<CheckResult> Checks)
{
    public IReadOnlyList<ReportTable> Tables { get; init; } = [];
}
