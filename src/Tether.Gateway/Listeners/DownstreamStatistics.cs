namespace Tether.Gateway.Listeners;

/// <summary>
/// Client-side counters with nginx stub_status meaning: accepted and handled connections, active ones, and of
/// those how many are reading (receiving a request head), writing (a request in progress) and waiting (idle
/// keep-alive). Reading is counted by the "tether" engine; on Kestrel listeners it is folded into waiting
/// (Kestrel does not tell an application when a request head starts).
/// </summary>
public sealed class DownstreamStatistics
{
    private long _accepted;
    private long _handled;
    private long _active;
    private long _inFlight;
    private long _requests;
    private long _reading;

    public long Accepted => Volatile.Read(ref _accepted);

    public long Handled => Volatile.Read(ref _handled);

    public long Active => Volatile.Read(ref _active);

    /// <summary>Requests in progress.</summary>
    public long Writing => Volatile.Read(ref _inFlight);

    /// <summary>Connections receiving a request head (engine "tether" only).</summary>
    public long Reading => Volatile.Read(ref _reading);

    public long Waiting => Math.Max(0, Active - Writing - Reading);

    public long Requests => Volatile.Read(ref _requests);

    /// <summary>Client connections closed by a protection (slow client, limits, PROXY protocol), by reason.</summary>
    public Protection.ConnectionCloseCounters Closed { get; } = new();

    internal void OnAccepted() => Interlocked.Increment(ref _accepted);

    internal void OnHandled()
    {
        Interlocked.Increment(ref _handled);
        Interlocked.Increment(ref _active);
    }

    internal void OnClosed() => Interlocked.Decrement(ref _active);

    internal void OnRequestStarted()
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Increment(ref _inFlight);
    }

    internal void OnRequestEnded() => Interlocked.Decrement(ref _inFlight);

    internal void OnReadingStarted() => Interlocked.Increment(ref _reading);

    internal void OnReadingEnded() => Interlocked.Decrement(ref _reading);
}
