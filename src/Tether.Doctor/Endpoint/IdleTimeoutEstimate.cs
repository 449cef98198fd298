namespace Tether.Doctor.Endpoint;

public enum IdleTimeoutKind
{
    /// <summary>The server closed idle connections and the doctor saw the FINs: <see cref="IdleTimeoutEstimate.Value"/> ± uncertainty.</summary>
    Measured,

    /// <summary>Idle connections died without a FIN; the value is the middle of the narrowed interval.</summary>
    Bracketed,

    /// <summary>Every connection outlived the budget.</summary>
    LongerThanBudget,

    /// <summary>The server closes after each response.</summary>
    NotKeptAlive,

    /// <summary>No connection could be opened or used.</summary>
    Failed,
}

/// <summary>The server's idle timeout as measured: the earliest idle age at which it closes a connection.</summary>
public sealed record IdleTimeoutEstimate
{
    public required IdleTimeoutKind Kind { get; init; }

    /// <summary>The estimate (Measured: the earliest close seen; Bracketed: the interval's middle).</summary>
    public TimeSpan Value { get; init; }

    public TimeSpan Uncertainty { get; init; }

    /// <summary>The longest idle time a connection was seen to survive.</summary>
    public TimeSpan LowerBound { get; init; }

    public TimeSpan? UpperBound { get; init; }

    /// <summary>How many closes were seen, and their spread: a server that checks its timers on a
    /// heartbeat (Kestrel: 1 s) closes anywhere in a window after its configured timeout.</summary>
    public int Closes { get; init; }

    public TimeSpan? EarliestClose { get; init; }

    public TimeSpan? LatestClose { get; init; }

    public int Connections { get; init; }

    public int Rounds { get; init; }

    public TimeSpan Elapsed { get; init; }

    /// <summary>The idle expiry a client pool must stay below to never reuse a connection the server is closing.</summary>
    public TimeSpan? SafeClientExpiry => Kind is IdleTimeoutKind.Measured or IdleTimeoutKind.Bracketed
        ? (Kind == IdleTimeoutKind.Bracketed ? LowerBound : Value - Uncertainty)
        : null;
}
