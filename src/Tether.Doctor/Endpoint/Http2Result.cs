namespace Tether.Doctor.Endpoint;

/// <summary>HTTP/2 support and what several concurrent requests did.</summary>
/// <param name="How">"ALPN h2" or "prior knowledge (h2c)", or why not.</param>
/// <param name="MaxConcurrentStreams">From the server's SETTINGS; null = not sent (unlimited by the spec).</param>
/// <param name="ConcurrentRequests">Requests sent at once through HttpClient (HTTP/2 only).</param>
/// <param name="ConnectionsUsed">TCP connections HttpClient opened for them: 1 means they were multiplexed.</param>
public sealed record Http2Result(bool Supported, string How, long? MaxConcurrentStreams, int ConcurrentRequests, int ConnectionsUsed, string? Error)
{
    /// <summary>What the server chose over TLS when offered h2 and http/1.1 ("" = no ALPN); null on cleartext.</summary>
    public string? Alpn { get; init; }

    public bool Multiplexed => Supported && ConcurrentRequests > 1 && ConnectionsUsed == 1 && Error is null;
}
