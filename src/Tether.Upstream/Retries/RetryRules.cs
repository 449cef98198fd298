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
    /// arrived. A non-idempotent request (POST, PATCH, …) is never resent once its head has been written, body or
    /// not: a backend that read it and then closed or reset without answering may have acted on it, and from here
    /// that looks exactly like a keep-alive race. Its only retries are a failed connect and a head whose write
    /// failed (the backend cannot hold the whole request), as nginx's <c>proxy_next_upstream</c> without
    /// <c>non_idempotent</c> and Envoy's <c>reset-before-request</c>.
    /// </summary>
    public static RetryDecision Classify(UpstreamException error, bool reused, bool bodyConsumed, bool idempotent)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (error.Kind == UpstreamErrorKind.ClientAborted || bodyConsumed || error.ResponseBytesReceived)
        {
            return RetryDecision.None;
        }

        if (error.Phase is UpstreamPhase.Queue or UpstreamPhase.Connect or UpstreamPhase.Tls)
        {
            return RetryDecision.NextDestination; // nothing was sent
        }

        // readIdleTimeout before any response byte: the backend went silent after the request (a dropped flow, a
        // hung process); one that may have acted on it is only asked again for a method safe to repeat.
        if (error is { Kind: UpstreamErrorKind.Timeout, ReadIdle: true, Phase: UpstreamPhase.ReadHeaders })
        {
            return idempotent ? RetryDecision.NextDestination : RetryDecision.None;
        }

        if (error.Kind is not (UpstreamErrorKind.Closed or UpstreamErrorKind.Reset))
        {
            return RetryDecision.None;
        }

        return error.Phase switch
        {
            // Writing the head failed: on a reused connection the backend had closed it at its idle timeout; the
            // request never arrived whole, whatever the method.
            UpstreamPhase.SendRequest => reused ? RetryDecision.StaleConnection : idempotent ? RetryDecision.NextDestination : RetryDecision.None,

            // The whole head left and the backend closed or reset without a response byte. On a reused connection
            // this is usually the backend's idle close crossing our write, but it may have read and acted on the
            // request: only a method that is safe to repeat goes again.
            UpstreamPhase.ReadHeaders when idempotent => reused ? RetryDecision.StaleConnection : RetryDecision.NextDestination,
            _ => RetryDecision.None,
        };
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
