namespace Tether.Doctor.Endpoint;

internal enum IdleOutcome
{
    /// <summary>The server's FIN (or reset) arrived after the connection had been idle this long.</summary>
    ClosedAt,

    /// <summary>The connection was still usable after this much idle time (a request on it succeeded, or no FIN yet).</summary>
    AliveAt,

    /// <summary>No FIN arrived, but a request after this much idle time failed: the connection was dropped silently.</summary>
    DeadAt,

    /// <summary>The first response already ended the connection; there is no idle period to measure.</summary>
    NotKeptAlive,
}

/// <summary>What one connection told the idle-timeout probe.</summary>
internal readonly record struct IdleObservation(IdleOutcome Outcome, TimeSpan IdleAge);
