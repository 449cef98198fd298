using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Tether.FunctionalTests.Draining;

/// <summary>
/// The real <c>tether</c> executable (the build output of src/Tether, copied next to the tests) run as a child
/// process with a config file, its output captured, and POSIX signals sent to it.
/// </summary>
internal sealed partial class TetherProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<Uri> _admin = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private TetherProcess(Process process)
    {
        _process = process;
    }

    public int Id => _process.Id;

    public string Output
    {
        get
        {
            lock (_lines)
            {
                return string.Join('\n', _lines);
            }
        }
    }

    public static async Task<(TetherProcess Process, Uri Listener, Uri Admin)> StartAsync(string configPath, IReadOnlyDictionary<string, string>? environment = null)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        var info = new ProcessStartInfo(dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "tether.dll"));
        info.ArgumentList.Add("run");
        info.ArgumentList.Add("--config");
        info.ArgumentList.Add(configPath);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        var process = new TetherProcess(Process.Start(info)!);
        process._process.OutputDataReceived += (_, e) => process.OnLine(e.Data);
        process._process.ErrorDataReceived += (_, e) => process.OnLine(e.Data);
        process._process.BeginOutputReadLine();
        process._process.BeginErrorReadLine();
        var timeout = TimeSpan.FromSeconds(20);
        try
        {
            var listener = await process._listening.Task.WaitAsync(timeout);
            var admin = await process._admin.Task.WaitAsync(timeout);
            return (process, listener, admin);
        }
        catch (TimeoutException)
        {
            var output = process.Output;
            await process.DisposeAsync();
            throw new InvalidOperationException("tether did not start:\n" + output);
        }
    }

    public void Signal(string name)
    {
        using var kill = Process.Start("kill", ["-" + name, Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>The exit code, or null if it has not exited within <paramref name="timeout"/>.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lines)
        {
            _lines.Add(line);
        }

        if (ListeningLine().Match(line) is { Success: true } listening)
        {
            _listening.TrySetResult(new Uri(listening.Groups[1].Value));
        }
        else if (AdminLine().Match(line) is { Success: true } admin)
        {
            _admin.TrySetResult(new Uri(admin.Groups[1].Value));
        }
    }

    [GeneratedRegex(@"listening on (\S+)")]
    private static partial Regex ListeningLine();

    [GeneratedRegex(@"admin on (\S+)")]
    private static partial Regex AdminLine();
}
