using System.CommandLine;
using Tether.Configuration;

namespace Tether.Commands;

/// <summary>`tether config --print [--config FILE] [--format json|yaml]` (nginx -T): the effective config, every
/// default filled in and TETHER__ overrides applied; an invalid config is refused with check's errors.</summary>
internal static class ConfigCommand
{
    public static Command Create()
    {
        var print = new Option<bool>("--print") { Description = "Print the effective config: every key, with its default where the file has none." };
        var config = new Option<FileInfo?>("--config", "-c") { Description = "The config file (JSON or YAML). Without it: the defaults, as the config {} gives them." };
        var format = new Option<ConfigFormat>("--format") { Description = "Output syntax: json or yaml.", DefaultValueFactory = _ => ConfigFormat.Json };
        var command = new Command("config", "Print the effective config (every default filled in), as nginx -T does.") { print, config, format };
        command.SetAction(parseResult =>
        {
            if (!parseResult.GetValue(print))
            {
                Console.Error.WriteLine("tether config: say what to do: --print writes the effective config. Try 'tether config --help'.");
                return 2;
            }

            if (ConfigErrors.Load(parseResult.GetValue(config)) is not { } effective)
            {
                return 1;
            }

            Console.Out.WriteLine(parseResult.GetValue(format) == ConfigFormat.Yaml
                ? ConfigWriter.ToYaml(effective).TrimEnd()
                : ConfigWriter.ToJson(effective));
            return 0;
        });
        return command;
    }
}
