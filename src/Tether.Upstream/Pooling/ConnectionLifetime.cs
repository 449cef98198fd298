namespace Tether.Upstream.Pooling;

/// <summary>
/// Per-connection expiry state, after SocketsHttpHandler's single IsUsable check. Not thread-safe: only the
/// current holder (a request, or the pool while the connection is idle) touches it.
/// </summary>
public sealed class ConnectionLifetime
{
    private readonly TimeProvider _timeProvider;

    public ConnectionLifetime(TimeProvider timeProvider, TimeSpan idleTimeout, TimeSpan? maxLifetime, int maxRequests)
    {
        _timeProvider = timeProvider;
        IdleTimeout = idleTimeout;
        MaxLifetime = maxLifetime is { } l && l > TimeSpan.Zero ? l : null;
        MaxRequests = maxRequests;
        CreatedTimestamp = timeProvider.GetTimestamp();
        IdleSinceTimestamp = CreatedTimestamp;
    }

    /// <summary>TimeProvider timestamp of creation.</summary>
    public long CreatedTimestamp { get; }

    /// <summary>TimeProvider timestamp of the last return to the pool.</summary>
    public long IdleSinceTimestamp { get; private set; }

    /// <summary>Effective idle timeout: the configured one, lowered by what the backend advertises.</summary>
    public TimeSpan IdleTimeout { get; private set; }

    public TimeSpan? MaxLifetime { get; }

    /// <summary>Configured cap on requests; 0 = unlimited.</summary>
    public int MaxRequests { get; }

    /// <summary>Requests started on this connection.</summary>
    public int RequestCount { get; private set; }

    /// <summary>Requests the backend still allows (its Keep-Alive: max); null = it never said.</summary>
    public int? ServerRemainingRequests { get; private set; }

    public void OnRequestStarted()
    {
        RequestCount++;
        if (ServerRemainingRequests is int remaining)
        {
            ServerRemainingRequests = remaining - 1;
        }
    }

    public void OnReturnedIdle() => OnReturnedIdle(_timeProvider.GetTimestamp());

    /// <param name="now">The time provider's timestamp now (read once by a caller that needs it twice).</param>
    public void OnReturnedIdle(long now) => IdleSinceTimestamp = now;

    /// <summary>After <see cref="OnRequestStarted"/>: whether this request is the connection's last (its
    /// maxRequests, or the backend's Keep-Alive: max, is reached with it), so it can ask the backend to close.</summary>
    public bool IsLastRequest => (MaxRequests > 0 && RequestCount >= MaxRequests) || ServerRemainingRequests is <= 0;

    /// <summary>
    /// Learns from the backend's "Keep-Alive: timeout=N, max=M". The backend closes after N seconds idle; we
    /// must give the connection up first, so the idle timeout becomes N minus a margin (a quarter of N, at most
    /// one second: the backend's own timer is coarse and the FIN needs time to arrive). M counts the requests
    /// the backend still accepts after this response.
    /// </summary>
    public void LearnServerKeepAlive(TimeSpan? serverTimeout, int? serverMax)
    {
        if (serverTimeout is { } t)
        {
            var margin = TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, t.Ticks / 4));
            var learned = t - margin;
            if (learned < IdleTimeout)
            {
                IdleTimeout = learned;
            }
        }

        if (serverMax is int m)
        {
            ServerRemainingRequests = m;
        }
    }

    /// <summary>Lowers the idle timeout to <paramref name="limit"/> if that is shorter (what the pool learned from
    /// watching the backend close idle connections).</summary>
    public void LowerIdleTimeout(TimeSpan limit)
    {
        if (limit < IdleTimeout)
        {
            IdleTimeout = limit;
        }
    }

    /// <summary>Null if the connection may carry another request now; otherwise why not.</summary>
    public ConnectionCloseReason? CheckUsable() => CheckUsable(_timeProvider.GetTimestamp());

    /// <param name="now">The time provider's timestamp now (read once by a caller that needs it twice).</param>
    public ConnectionCloseReason? CheckUsable(long now)
    {
        if (MaxRequests > 0 && RequestCount >= MaxRequests)
        {
            return ConnectionCloseReason.MaxRequests;
        }

        if (ServerRemainingRequests is <= 0)
        {
            return ConnectionCloseReason.MaxRequests;
        }

        if (MaxLifetime is { } lifetime && _timeProvider.GetElapsedTime(CreatedTimestamp, now) >= lifetime)
        {
            return ConnectionCloseReason.MaxLifetime;
        }

        if (_timeProvider.GetElapsedTime(IdleSinceTimestamp, now) >= IdleTimeout)
        {
            return ConnectionCloseReason.IdleTimeout;
        }

        return null;
    }
}
