using System.CommandLine;
using Tether.Configuration;
using Tether.Doctor;

namespace Tether.Commands;

/// <summary>`tether check --config FILE [--probe] [--json]`: validate, print every error, exit 1 if any.</summary>
internal static class CheckCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo>("--config", "-c") { Description = "The config file to validate (JSON, or YAML: .yaml, .yml).", Required = true };
        var probe = new Option<bool>("--probe") { Description = "Also probe each destination and check the timeout chain." };
        var json = new Option<bool>("--json") { Description = "With --probe: print the chain report as JSON." };
        var command = new Command("check", "Validate a config file and print every error (key, value, what to do).")
        {
            config, probe, json,
        };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var file = parseResult.GetValue(config)!;
            if (ConfigErrors.Load(file) is not { } cfg)
            {
                return 1;
            }

            if (!parseResult.GetValue(probe))
            {
                Console.Out.WriteLine(
                    $"{file.FullName}: OK ({cfg.Listeners.Count} listener(s), {cfg.Routes.Count} route(s), {cfg.Clusters.Count} cluster(s))");
                return 0;
            }

            return await TimeoutChainProbe.RunAsync(cfg, parseResult.GetValue(json), Console.Out, cancellationToken);
        });
        return command;
    }
}
