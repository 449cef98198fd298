using Spectre.Console;

namespace Tether.Doctor.Reporting;

/// <summary>Where a run's report and progress go: JSON or the terminal report on the output, a spinner on stderr.</summary>
public static class ReportOutput
{
    public static void Write(DoctorReport report, bool json, TextWriter output)
    {
        if (json)
        {
            JsonReportWriter.Write(report, output);
        }
        else
        {
            TerminalReportWriter.Write(report, output, color: ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected);
        }
    }

    /// <summary>
    /// Runs the timed probes under a progress indicator on stderr when stderr is a terminal and the output is
    /// not JSON; otherwise runs them silently, so scripts and tests see only the report.
    /// </summary>
    public static async Task<T> WithProgressAsync<T>(bool json, Func<IProgress<string>?, Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (json || Console.IsErrorRedirected)
        {
            return await work(null).ConfigureAwait(false);
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return await console.Status().Spinner(Spinner.Known.Dots).StartAsync("probing", async context =>
        {
            var progress = new Progress<string>(step => context.Status(Markup.Escape(step)));
            return await work(progress).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }
}
