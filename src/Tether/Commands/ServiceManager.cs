using Microsoft.Extensions.Hosting.Systemd;

namespace Tether.Commands;

/// <summary>
/// Tells systemd (Type=notify, packaging/deb/tether.service) when the listeners are up and when a drain starts,
/// through Microsoft.Extensions.Hosting.Systemd's notifier. Not <c>UseSystemd()</c> on the hosts: that installs
/// SystemdLifetime, which stops each host on SIGTERM by itself and would cut the drain short (GatewayHost keeps
/// the process, not the hosts, in charge of stopping). Like sd_notify(3), it notifies whenever NOTIFY_SOCKET is set
/// (SystemdHelpers.IsSystemdService() also wants systemd as the parent, which a wrapper script or a container hides);
/// without it every call does nothing.
/// </summary>
internal sealed class ServiceManager
{
    private readonly SystemdNotifier? _notifier;
    private int _stopping;

    private ServiceManager(SystemdNotifier? notifier) => _notifier = notifier;

    /// <summary>True when stdout goes to the journal (systemd sets JOURNAL_STREAM) or systemd is the parent:
    /// log lines then carry journal priorities instead of timestamps.</summary>
    public static bool LogsToJournal { get; } =
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("JOURNAL_STREAM")) || SystemdHelpers.IsSystemdService();

    public static ServiceManager Create() =>
        new(string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NOTIFY_SOCKET")) ? null : new SystemdNotifier());

    /// <summary>READY=1: every listener is bound. systemd holds units ordered After=tether until then.</summary>
    public void Ready()
    {
        if (_notifier is { IsEnabled: true } notifier)
        {
            notifier.Notify(ServiceState.Ready);
        }
    }

    /// <summary>STOPPING=1, once: a drain started (SIGTERM, SIGINT, POST /drain).</summary>
    public void Stopping()
    {
        if (_notifier is { IsEnabled: true } notifier && Interlocked.Exchange(ref _stopping, 1) == 0)
        {
            notifier.Notify(ServiceState.Stopping);
        }
    }
}
