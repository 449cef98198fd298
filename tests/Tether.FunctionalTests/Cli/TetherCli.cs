using System.Diagnostics;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Cli;

/// <summary>The built tether.dll (copied next to this assembly by the project reference) run in a child process as
/// users run it, with no TETHER__ variables inherited unless given.</summary>
internal static class TetherCli
{
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(ITestOutputHelper output, string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "tether.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("TETHER__", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        output.WriteLine($"exit {process.ExitCode}\n--- stdout\n{await stdout}--- stderr\n{await stderr}");
        return (process.ExitCode, await stdout, await stderr);
    }
}
