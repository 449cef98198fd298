using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Tether.Gateway;

namespace Tether.Commands;

/// <summary>
/// What each signal does to a running gateway: SIGTERM and SIGINT start a drain, a second one aborts it;
/// SIGHUP reloads the config file; SIGUSR1 reopens the access log file (logrotate, as nginx does). Each handler
/// cancels the runtime's default action (terminate).
/// </summary>
internal sealed partial class ProcessSignals : IDisposable
{
    private readonly TetherGateway _gateway;
    private readonly ILogger _log;
    private readonly PosixSignalRegistration[] _registrations;
    private int _stops;

    /// <summary>PosixSignal has no SIGUSR1; a raw signal number is accepted on Unix (10 on Linux, 30 on macOS and the BSDs).</summary>
    private static PosixSignal SigUsr1 => (PosixSignal)(OperatingSystem.IsLinux() ? 10 : 30);

    public ProcessSignals(TetherGateway gateway, ILogger log)
    {
        _gateway = gateway;
        _log = log;

        // A process started by nohup (or a supervisor that ignores hangups) inherits SIGHUP as ignored, and the runtime
        // then installs no handler for it: SIGHUP would not reload. nginx reloads on HUP however it was started, so
        // the disposition goes back to the default first; the registration below replaces it at once.
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
        {
            _ = ResetToDefault(1); // SIGHUP is 1 on every Unix
        }

        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnStop),
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnStop),
            PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnReload),
            PosixSignalRegistration.Create(SigUsr1, OnReopen),
        ];
    }

#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code in this project; DllImport marshals two ints the same
    [DllImport("libc", EntryPoint = "signal")]
    private static extern nint Signal(int signal, nint handler);
#pragma warning restore SYSLIB1054

    private static nint ResetToDefault(int signal) => Signal(signal, 0); // SIG_DFL

    /// <summary>A stop request: the first drains, any later one aborts the drain.</summary>
    public void Stop(string cause)
    {
        if (Interlocked.Increment(ref _stops) == 1)
        {
            // Off the signal handler: the runtime's signal thread waits for each handler to return (it must learn
            // Cancel) before it takes the next signal, so a drain that runs synchronously for a while (closing the
            // listeners) would hold back the second signal that should abort it.
            _ = Task.Run(() => _gateway.DrainAsync(cause));
        }
        else
        {
            _gateway.AbortDrain();
        }
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }
    }

    private void OnStop(PosixSignalContext context)
    {
        context.Cancel = true;
        Log.Signal(_log, context.Signal.ToString());
        Stop(context.Signal.ToString());
    }

    private void OnReload(PosixSignalContext context)
    {
        context.Cancel = true;
        Log.Signal(_log, context.Signal.ToString());
        _ = Task.Run(() => _gateway.ReloadAsync("SIGHUP"));
    }

    private void OnReopen(PosixSignalContext context)
    {
        context.Cancel = true;
        Log.Signal(_log, "SIGUSR1");
        _gateway.ReopenLogs();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4030, EventName = "SignalReceived", Level = LogLevel.Information, Message = "received {Signal}")]
        public static partial void Signal(ILogger logger, string signal);
    }
}
