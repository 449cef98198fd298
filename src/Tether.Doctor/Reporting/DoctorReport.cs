namespace Tether.Doctor.Reporting;

/// <summary>Everything one doctor run found; rendered as a terminal report or as JSON, same content.</summary>
public sealed record DoctorReport(string Subject, IReadOnlyList<ReportSection> Sections)
{
    public int Passed => Count(Verdict.Pass);

    public int Warnings => Count(Verdict.Warn);

    public int Failures => Count(Verdict.Fail);

    /// <summary>0 when nothing failed, 1 otherwise (warnings do not fail a run).</summary>
    public int ExitCode => Failures > 0 ? 1 : 0;

    public IEnumerable<CheckResult> AllChecks => Sections.SelectMany(s => s.Checks);

    public CheckResult? Find(string id) => AllChecks.FirstOrDefault(c => c.Id == id);

    private int Count(Verdict verdict) => AllChecks.Count(c => c.Verdict == verdict);
}
