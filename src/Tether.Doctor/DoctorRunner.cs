using Tether.Doctor.Endpoint;
using Tether.Doctor.Host;
using Tether.Doctor.Http;
using Tether.Doctor.Reporting;

namespace Tether.Doctor;

/// <summary>`tether doctor`: endpoint probes and/or the host audit, one report, exit 0 (pass) / 1 (fail) / 2 (usage).</summary>
public static class DoctorRunner
{
    public const int UsageError = 2;

    public static async Task<int> RunAsync(DoctorRequest request, TextWriter output, TextWriter error, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var host = request.Host || request.WriteSysctl is not null;
        if (request.Url is null && !host)
        {
            error.WriteLine("tether doctor: give a URL to probe (tether doctor http://host:port/) and/or --host to audit this machine.");
            return UsageError;
        }

        ProbeTarget? target = null;
        if (request.Url is not null && !ProbeTarget.TryParse(request.Url, out target, out var urlError))
        {
            error.WriteLine($"tether doctor: {urlError}");
            return UsageError;
        }

        if (request.Budget <= TimeSpan.Zero)
        {
            error.WriteLine("tether doctor: --budget must be positive, e.g. --budget 60s");
            return UsageError;
        }

        var sections = new List<ReportSection>();
        if (target is not null)
        {
            var options = new EndpointOptions(target) { Budget = request.Budget, Insecure = request.Insecure };
            sections.AddRange(await ReportOutput.WithProgressAsync(request.Json,
                progress => new EndpointDoctor(timeProvider).RunAsync(options, progress, cancellationToken)).ConfigureAwait(false));
        }

        if (host)
        {
            var audit = HostAudit.Run(new HostFiles(request.Root));
            sections.AddRange(audit.Sections);
            if (request.WriteSysctl is { } path)
            {
                await File.WriteAllTextAsync(path, SysctlSnippet.Format(audit.Sysctl, timeProvider.GetLocalNow()), cancellationToken).ConfigureAwait(false);
                error.WriteLine($"tether doctor: wrote {path} ({audit.Sysctl.Count(l => l.Needed)} setting(s) to change); nothing was applied.");
            }
        }

        var subject = string.Join(" + ", new[] { target?.Uri.ToString(), host ? "this host" : null }.OfType<string>());
        var report = new DoctorReport(subject, sections);
        ReportOutput.Write(report, request.Json, output);
        return report.ExitCode;
    }
}
