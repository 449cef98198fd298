using Tether.Doctor.Reporting;

namespace Tether.Doctor.Host;

public sealed record HostAuditResult(IReadOnlyList<ReportSection> Sections, IReadOnlyList<SysctlLine> Sysctl);
