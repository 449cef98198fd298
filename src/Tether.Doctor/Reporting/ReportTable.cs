namespace Tether.Doctor.Reporting;

/// <summary>A table of figures shown before a section's checks (timings, socket counts, hops).</summary>
public sealed record ReportTable(string Title, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string>> Rows);
