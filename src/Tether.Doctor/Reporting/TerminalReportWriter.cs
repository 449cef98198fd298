using Spectre.Console;

namespace Tether.Doctor.Reporting;

/// <summary>The readable report: per section, its tables, then one row per check with verdict, finding and advice.</summary>
public static class TerminalReportWriter
{
    public static void Write(DoctorReport report, TextWriter output, bool color = false)
    {
        ArgumentNullException.ThrowIfNull(report);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = color ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = color ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = Math.Max(console.Profile.Width, 120);
        console.MarkupLine($"[bold]tether doctor[/]: {Markup.Escape(report.Subject)}");
        foreach (var section in report.Sections)
        {
            console.WriteLine();
            console.Write(new Rule($"[bold]{Markup.Escape(section.Title)}[/]") { Justification = Justify.Left });
            foreach (var source in section.Tables)
            {
                var table = new Table { Title = new TableTitle(Markup.Escape(source.Title)), Border = TableBorder.Rounded };
                foreach (var column in source.Columns)
                {
                    table.AddColumn(Markup.Escape(column));
                }

                foreach (var row in source.Rows)
                {
                    table.AddRow(row.Select(Markup.Escape).ToArray());
                }

                console.Write(table);
            }

            var checks = new Table { Border = TableBorder.Rounded };
            checks.AddColumn("Verdict");
            checks.AddColumn("Check");
            checks.AddColumn("Finding");
            checks.AddColumn("Advice");
            foreach (var check in section.Checks)
            {
                checks.AddRow(VerdictMarkup(check.Verdict), Markup.Escape(check.Title), Markup.Escape(check.Finding), Markup.Escape(check.Advice ?? ""));
            }

            console.Write(checks);
        }

        console.WriteLine();
        var summary = $"{report.Passed} passed, {report.Warnings} warning(s), {report.Failures} failed";
        console.MarkupLine(report.Failures > 0 ? $"[red]{summary}[/]" : $"[green]{summary}[/]");
    }

    private static string VerdictMarkup(Verdict verdict) => verdict switch
    {
        Verdict.Pass => "[green]PASS[/]",
        Verdict.Warn => "[yellow]WARN[/]",
        Verdict.Fail => "[red]FAIL[/]",
        _ => "[blue]INFO[/]",
    };
}
