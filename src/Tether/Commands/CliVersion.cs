using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;

namespace Tether.Commands;

/// <summary>System.CommandLine puts --version on the root only; every verb answers it too.</summary>
internal static class CliVersion
{
    public static string Text { get; } =
        typeof(CliVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? "0.0.0";

    public static void AddTo(Command command)
    {
        if (command.Options.Any(o => o.Name == "--version"))
        {
            return;
        }

        var option = new Option<bool>("--version") { Description = "Show version information" };
        command.Options.Add(option);
        var inner = command.Action;
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            if (parseResult.GetValue(option))
            {
                Console.Out.WriteLine($"tether {Text}");
                return 0;
            }

            return inner is AsynchronousCommandLineAction a
                ? await a.InvokeAsync(parseResult, cancellationToken)
                : inner is SynchronousCommandLineAction s ? s.Invoke(parseResult) : 0;
        });
    }
}
