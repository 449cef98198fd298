namespace Tether.Doctor.Reporting;

/// <summary>One check: what was found, the verdict, and plain advice when there is something to do.</summary>
/// <param name="Id">Stable, dotted, for scripts: "endpoint.idleTimeout", "host.net.core.somaxconn".</param>
/// <param name="Title">What was checked, for people.</param>
/// <param name="Finding">What the doctor saw, with the numbers.</param>
/// <param name="Advice">What to do, or null when nothing needs doing.</param>
public sealed record CheckResult(string Id, string Title, Verdict Verdict, string Finding, string? Advice = null)
{
    /// <summary>The numbers behind the finding (seconds, milliseconds, counts), named with their unit.</summary>
    public IReadOnlyDictionary<string, double>? Measurements { get; init; }
}
