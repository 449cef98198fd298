namespace Tether.Upstream.Http1;

/// <summary>The backend broke HTTP/1.1 framing or syntax.</summary>
public sealed class Http1ParseException(string message) : Exception(message);
