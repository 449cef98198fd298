namespace Tether.Gateway.Reload;

/// <summary>The outcome of one reload, as /status shows it under <c>lastReload</c>.</summary>
public sealed record ReloadResult(DateTimeOffset At, bool Ok, IReadOnlyList<string> Errors, string Trigger)
{
    /// <summary>Listeners started, kept and drained; clusters rebuilt and kept (empty when the reload failed).</summary>
    public string Summary { get; init; } = "";

    /// <summary>The etcd revision of the config this reload read (null for a file).</summary>
    public long? Revision { get; init; }
}
