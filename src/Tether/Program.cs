using System.CommandLine;
using Tether.Commands;

var root = new RootCommand("Tether: a reverse proxy and load balancer that gets persistent connections right.");
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(CheckCommand.Create());
root.Subcommands.Add(DoctorCommand.Create());
foreach (var command in root.Subcommands)
{
    CliVersion.AddTo(command);
}

return await root.Parse(args).InvokeAsync();
