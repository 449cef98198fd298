namespace Tether.Doctor.Host;

/// <summary>One line for a sysctl.d snippet: the setting, the value to set, and why.</summary>
/// <param name="Needed">False when the host already meets it (written commented out, for reference).</param>
public sealed record SysctlLine(string Name, string Value, string Reason, bool Needed);
