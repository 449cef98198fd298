using System.CommandLine;

namespace Tether.Commands;

/// <summary>`tether run [--config FILE]`: run the gateway; without a config, the embedded demo.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo?>("--config", "-c") { Description = "The JSON config file. Without it: the embedded default with two demo origins." };
        var command = new Command("run", "Run the gateway.") { config };
        command.SetAction((parseResult, cancellationToken) => Task.FromResult(0));
        return command;
    }
}
