using Microsoft.AspNetCore.Http;
using Tether.Upstream;

namespace Tether.Gateway.Observability;

/// <summary>
/// One request's access-log line, as data: set on <see cref="HttpContext.Features"/> when the request starts
/// (only while the access log is on), filled in by the forwarder as it goes (destination, connection reused or
/// new, attempts, error phase), completed from the context when the request ends, then formatted and written by
/// <see cref="AccessLog"/>'s writer, off the request path.
/// </summary>
internal sealed class AccessLogEntry
{
    private bool? _attemptReused;

    /// <summary>When the request started (UTC).</summary>
    public DateTime Time { get; init; }

    public string? Client { get; set; }

    public string Method { get; set; } = "";

    public string? Host { get; set; }

    /// <summary>The request target as the client sent it (path and query).</summary>
    public string Target { get; set; } = "";

    public string Protocol { get; set; } = "";

    public int Status { get; set; }

    /// <summary>Request body bytes read from the client.</summary>
    public long BytesIn { get; set; }

    /// <summary>Response body bytes written to the client.</summary>
    public long BytesOut { get; set; }

    public double DurationSeconds { get; set; }

    public string? Referer { get; set; }

    public string? UserAgent { get; set; }

    /// <summary>The client's traceparent header, if it sent one (the trace id is taken from it when written).</summary>
    public string? TraceParent { get; set; }

    public string? Cluster { get; set; }

    /// <summary>The destination of the last attempt; null if none was tried.</summary>
    public string? Destination { get; private set; }

    /// <summary>Whether the last attempt's connection was reused (true) or new (false); null if it got none.</summary>
    public bool? Reused { get; private set; }

    /// <summary>Attempts made; retries are those after the first.</summary>
    public int Attempts { get; private set; }

    public int Retries => Math.Max(0, Attempts - 1);

    /// <summary>Where the request failed, if it did (the upstream phase, or the client's side).</summary>
    public UpstreamPhase? ErrorPhase { get; private set; }

    public UpstreamErrorKind? ErrorKind { get; private set; }

    internal CountingResponseBody? ResponseBody { get; set; }

    internal CountingRequestBody? RequestBody { get; set; }

    public static AccessLogEntry? Of(HttpContext context) => context.Features.Get<AccessLogEntry>();

    /// <summary>The attempt under way got a connection (HTTP/2: a stream on one that was open, or on a new one).</summary>
    public void OnConnection(bool reused) => _attemptReused = reused;

    public void OnAttemptEnded(string destination)
    {
        Attempts++;
        Destination = destination;
        Reused = _attemptReused;
        _attemptReused = null;
    }

    public void OnError(UpstreamPhase phase, UpstreamErrorKind kind)
    {
        ErrorPhase = phase;
        ErrorKind = kind;
    }

    /// <summary>The trace id of a W3C traceparent ("00-&lt;32 hex&gt;-&lt;16 hex&gt;-&lt;2 hex&gt;"), or empty if it is not one.</summary>
    public static ReadOnlySpan<char> TraceId(string? traceParent)
    {
        if (traceParent is null || traceParent.Length < 55 || traceParent[2] != '-' || traceParent[35] != '-')
        {
            return default;
        }

        var id = traceParent.AsSpan(3, 32);
        return id.ContainsAnyExcept("0123456789abcdef") || !id.ContainsAnyExcept('0') ? default : id;
    }
}
