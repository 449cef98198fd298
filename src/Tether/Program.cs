using System.CommandLine;
using Tether.Commands;

// Run socket completions on the epoll threads instead of hopping to the thread pool: on a small machine a
// proxy spends much of each request in those hops. Every await on the forwarding path is non-blocking, which
// this requires. Measured with bench/ (see docs/benchmarks.md); set the variable to 0 to opt out.
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
{
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}

// ArrayPool.Shared keeps 32 arrays of each size per core by default (64 here on 2 cores). SocketsHttpHandler's HTTP/2
// client holds a pooled 32 KiB buffer per request until its HEADERS are written, so ~160 gRPC calls in flight outgrew
// it and every third call allocated a fresh array (30% of the bytes allocated, and gen1/gen2 collections several times
// a second; measured with dotnet-trace gc-verbose, bench/ grpc). 128 per core still bounds what the pool may keep.
// Read once, at the pool's first use, which is after this line; set the variable to override.
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_BUFFERS_SHAREDARRAYPOOL_MAXARRAYSPERPARTITION") is null)
{
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_BUFFERS_SHAREDARRAYPOOL_MAXARRAYSPERPARTITION", "128");
}

var root = new RootCommand("Tether: a reverse proxy and load balancer that gets persistent connections right.");
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(CheckCommand.Create());
root.Subcommands.Add(DoctorCommand.Create());
root.Subcommands.Add(ConfigCommand.Create());
foreach (var command in root.Subcommands)
{
    CliVersion.AddTo(command);
}

// Signals are Tether's own (RunCommand): System.CommandLine's handler would end the process two seconds
// after SIGTERM, in the middle of a drain.
var parseResult = root.Parse(args);
if (parseResult.Errors.Count > 0)
{
    // A usage error (unknown option, missing value) exits 2, as the doctor and check document; exit 1 is
    // kept for "the thing checked failed".
    foreach (var error in parseResult.Errors)
    {
        Console.Error.WriteLine($"tether: {error.Message}");
    }

    Console.Error.WriteLine("Try 'tether --help'.");
    return 2;
}

return await parseResult.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
