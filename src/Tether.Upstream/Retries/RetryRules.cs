namespace Tether.Upstream.Retries;

public enum RetryDecision
{
    /// <summary>Answer the client with the error.</summary>
    None,

    /// <summary>A reused connection was dead before the backend saw the request (the foundation's safe retry).</summary>
    StaleConnection,

    /// <summary>The backend did not get (or did not act on) the request: another destination may take it.</summary>
    NextDestination,
}

/// <summary>Which failed attempts may be tried again, and which count against the destination's health.</summary>
public static class RetryRules
{
    /// <summary>RFC 9110 §9.2.2: repeating these has the effect of sending them once.</summary>
    public static bool IsIdempotent(string method) =>
        method is "GET" or "HEAD" or "OPTIONS" or "TRACE" or "PUT" or "DELETE";

    /// <summary>
    /// Whether a failed attempt may be sent again. Never once a body byte left the client or a response byte
    /// arrived: replaying a POST whose body went out could apply it twice.
    /// </summary>
    public static RetryDecision Classify(UpstreamException error, bool reused, bool bodyConsumed, bool idempotent)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (error.Kind == UpstreamErrorKind.ClientAborted || bodyConsumed || error.ResponseBytesReceived)
        {
            return RetryDecision.None;
        }

        if (error.Phase is UpstreamPhase.Queue or UpstreamPhase.Connect)
        {
            return RetryDecision.NextDestination; // nothing was sent
        }

        if (error.Phase is UpstreamPhase.SendRequest or UpstreamPhase.ReadHeaders
            && error.Kind is UpstreamErrorKind.Closed or UpstreamErrorKind.Reset)
        {
            // On a reused connection this is the backend closing it at its idle timeout as we wrote: it never
            // read the request. On a fresh one the backend may have acted on it: only idempotent methods.
            return reused ? RetryDecision.StaleConnection : idempotent ? RetryDecision.NextDestination : RetryDecision.None;
        }

        return RetryDecision.None;
    }

    /// <summary>
    /// Whether the failure says something about the destination (passive health): refusals, resets and
    /// timeouts do; a stale pooled connection, a full queue or a client that left do not.
    /// </summary>
    public static bool CountsAgainstDestination(UpstreamException error, bool reused)
    {
        ArgumentNullException.ThrowIfNull(error);
        return error.Kind switch
        {
            UpstreamErrorKind.ClientAborted or UpstreamErrorKind.NoCapacity => false,
            UpstreamErrorKind.Closed or UpstreamErrorKind.Reset => !reused || error.ResponseBytesReceived,
            _ => true,
        };
    }
}
