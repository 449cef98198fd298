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

    /// <summary>Hand out an idle connection homed on the calling thread (one of the few most recently returned)
    /// before the most recent one. Worth it only with inline socket completions, where each socket's completions
    /// run on one socket-engine thread (see <see cref="InlineSocketCompletions"/>); otherwise a connection's "home"
    /// is whichever pool thread ran its last completion, and preferring it only defeats last in, first out.</summary>
    public bool PreferHomeThread { get; init; }

    /// <summary>Whether this process runs socket completions inline (DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1, which
    /// the gateway sets; a .NET service using Tether.Client normally does not).</summary>
    public static bool InlineSocketCompletions { get; } =
        Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") == "1";
}
