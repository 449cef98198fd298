namespace Tether.Upstream.Pooling;

/// <summary>Limits of one pool (one destination). Immutable; a reload builds new pools.</summary>
public sealed record PoolOptions
{
    /// <summary>Idle connections kept; more are closed on return (nginx keepalive N), or after
    /// <see cref="ExcessIdleTimeout"/>. 0 = no keep-alive.</summary>
    public int MaxIdle { get; init; } = 64;

    /// <summary>How long a connection returned above <see cref="MaxIdle"/> stays idle before the sweep closes it
    /// (HAProxy pool-purge-delay). Zero = closed on return.</summary>
    public TimeSpan ExcessIdleTimeout { get; init; }

    /// <summary>Learn the backend's idle timeout from the idle connections it closes (see
    /// <see cref="ConnectionPool{TConnection}.LearnedIdleTimeout"/>) and give connections up before it.</summary>
    public bool LearnIdleTimeout { get; init; }

    /// <summary>Open connections (idle + in use + connecting); 0 = unlimited (nginx max_conns).</summary>
    public int MaxConnections { get; init; }

    /// <summary>Requests allowed to wait for a connection at the cap; 0 = unlimited.</summary>
    public int MaxQueue { get; init; }

    /// <summary>How long a request waits for a connection at the cap before NoCapacity.</summary>
    public TimeSpan QueueTimeout { get; init; } = TimeSpan.FromSeconds(5);
}
