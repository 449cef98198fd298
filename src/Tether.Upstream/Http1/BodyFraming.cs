namespace Tether.Upstream.Http1;

/// <summary>How the end of a response body is found (RFC 9112 §6.3).</summary>
public enum BodyFraming
{
    /// <summary>HEAD, 1xx, 204, 304, or Content-Length: 0.</summary>
    None,
    ContentLength,
    Chunked,

    /// <summary>Neither length nor chunked: the body ends when the backend closes. Never reusable.</summary>
    CloseDelimited,
}
