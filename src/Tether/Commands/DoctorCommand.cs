using System.CommandLine;
using Tether.Configuration;
using Tether.Doctor;

namespace Tether.Commands;

/// <summary>`tether doctor [URL] [--host] [--budget 60s] [--json] [--insecure] [--write-sysctl FILE]`; the logic is in Tether.Doctor.</summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var url = new Argument<string?>("url") { Description = "The endpoint to probe, e.g. http://127.0.0.1:8080/ or https://api.example.com/.", Arity = ArgumentArity.ZeroOrOne };
        var host = new Option<bool>("--host") { Description = "Audit this host's kernel and process settings and TCP socket states." };
        var budget = new Option<string>("--budget") { Description = "Time the idle-timeout measurement may take (e.g. 60s, 2m).", DefaultValueFactory = _ => "60s" };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var insecure = new Option<bool>("--insecure", "-k") { Description = "Accept an untrusted TLS certificate (still reported)." };
        var writeSysctl = new Option<FileInfo?>("--write-sysctl") { Description = "Write a sysctl.d snippet with the recommended settings to FILE (never applied)." };
        var command = new Command("doctor", "Verify keep-alive on a live endpoint and audit this host.")
        {
            url, host, budget, json, insecure, writeSysctl,
        };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var budgetText = parseResult.GetValue(budget);
            if (!Durations.TryParse(budgetText, out var budgetValue))
            {
                Console.Error.WriteLine($"tether doctor: --budget '{budgetText}' is not a duration; write it like 60s or 2m.");
                return DoctorRunner.UsageError;
            }

            var request = new DoctorRequest
            {
                Url = parseResult.GetValue(url),
                Host = parseResult.GetValue(host),
                Budget = budgetValue,
                Json = parseResult.GetValue(json),
                Insecure = parseResult.GetValue(insecure),
                WriteSysctl = parseResult.GetValue(writeSysctl)?.FullName,
            };
            return await DoctorRunner.RunAsync(request, Console.Out, Console.Error, TimeProvider.System, cancellationToken);
        });
        return command;
    }
}
