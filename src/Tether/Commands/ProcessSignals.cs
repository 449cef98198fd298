using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Tether.Gateway;

namespace Tether.Commands;

/// <summary>
/// What each signal does to a running gateway: SIGTERM and SIGINT start a drain, a second one aborts it;
/// SIGHUP reloads the config file. Each handler cancels the runtime's default action (terminate).
/// </summary>
internal sealed partial class ProcessSignals : IDisposable
{
    private readonly TetherGateway _gateway;
    private readonly ILogger _log;
    private readonly PosixSignalRegistration[] _registrations;
    private int _stops;

    public ProcessSignals(TetherGateway gateway, ILogger log)
    {
        _gateway = gateway;
        _log = log;
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnStop),
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnStop),
            PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnReload),
        ];
    }

    /// <summary>A stop request: the first drains, any later one aborts the drain.</summary>
    public void Stop(string cause)
    {
        if (Interlocked.Increment(ref _stops) == 1)
        {
            _ = _gateway.DrainAsync(cause);
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
        _ = _gateway.ReloadAsync("SIGHUP");
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4030, EventName = "SignalReceived", Level = LogLevel.Information, Message = "received {Signal}")]
        public static partial void Signal(ILogger logger, string signal);
    }
}
