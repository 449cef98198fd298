namespace Tether.Gateway.Listeners;

/// <summary>Per client connection state, set by <see cref="DownstreamConnectionMiddleware"/>.</summary>
internal sealed class DownstreamConnection(long startTimestamp)
{
    /// <summary>Requests started on this connection (HTTP/1.1: sequential; HTTP/2: streams).</summary>
    public int RequestCount;

    public long StartTimestamp { get; } = startTimestamp;

    /// <summary>The client address as text, formatted once per connection for X-Forwarded-For.</summary>
    public string? ClientAddress { get; set; }
}
