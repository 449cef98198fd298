namespace Tether.Doctor.Reporting;

/// <summary>How a check came out. Only <see cref="Fail"/> makes the exit code 1.</summary>
public enum Verdict
{
    /// <summary>Good as it is.</summary>
    Pass,

    /// <summary>A fact with nothing to judge (or a check that does not apply).</summary>
    Info,

    /// <summary>Works, but a recommendation is not met; the advice says what to change and why.</summary>
    Warn,

    /// <summary>Broken, or certain to cause failed requests; the advice says the fix.</summary>
    Fail,
}
