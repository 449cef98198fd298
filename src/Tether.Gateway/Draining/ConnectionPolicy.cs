using Tether.Configuration;
using Tether.Gateway.Listeners;

namespace Tether.Gateway.Draining;

/// <summary>
/// nginx keepalive_requests / keepalive_time for client connections, built once per model so a reload
/// changes it for every connection at once. Lifetime jitter takes up to <c>maxConnectionLifetimeJitter</c>
/// off each connection's lifetime (never adds to it), so connections opened together do not close together.
/// </summary>
internal sealed class ConnectionPolicy
{
    private const int JitterSalt = 0x6a17;
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _lifetime;
    private readonly TimeSpan _jitter;

    public ConnectionPolicy(DownstreamConfig downstream, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(downstream);
        _timeProvider = timeProvider;
        MaxRequests = downstream.MaxRequestsPerConnection;
        if (downstream.MaxConnectionLifetime is { } lifetime)
        {
            HasLifetime = true;
            _lifetime = lifetime;
            _jitter = downstream.MaxConnectionLifetimeJitter ?? lifetime / 10;
        }

        KeepAliveHeader = downstream.AdvertiseKeepAlive
            ? $"timeout={(int)Math.Max(1, downstream.KeepAliveTimeout.TotalSeconds)}"
            : null;
    }

    /// <summary>0 = unlimited.</summary>
    public int MaxRequests { get; }

    public bool HasLifetime { get; }

    /// <summary>The value of <c>Keep-Alive</c> to send on responses that keep the connection, or null.</summary>
    public string? KeepAliveHeader { get; }

    /// <summary>The lifetime of this connection: the configured one minus its share of the jitter.</summary>
    public TimeSpan LifetimeOf(DownstreamConnection connection) =>
        _jitter <= TimeSpan.Zero ? _lifetime : _lifetime - (_jitter * ConnectionPhase.Of(connection, JitterSalt));

    public bool ReachedRequestCap(int requests) => MaxRequests > 0 && requests >= MaxRequests;

    public bool ReachedLifetime(DownstreamConnection connection) =>
        HasLifetime && _timeProvider.GetElapsedTime(connection.StartTimestamp) >= LifetimeOf(connection);
}
