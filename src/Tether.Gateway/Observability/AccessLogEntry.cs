using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Tether.Upstream;

namespace Tether.Gateway.Observability;

/// <summary>
/// One request's access-log line, as data: made when the request starts (only while the access log is on), filled
/// in by the forwarder as it goes (destination, connection reused or new, attempts, error phase), completed from the
/// context when the request ends, then formatted and written by <see cref="AccessLog"/>'s writer, off the request
/// path. It is also the request's response body (in place of Kestrel's <see cref="IHttpResponseBodyFeature"/>,
/// which it wraps), to count the bytes written: one object a request, found again through
/// <see cref="HttpResponse.BodyWriter"/> (a cached feature) rather than a feature lookup of its own.
/// A request refused before it had a context (Kestrel's own 400s) has an entry with no body feature to wrap
/// (<see cref="Refused"/>).
/// </summary>
internal sealed class AccessLogEntry(IHttpResponseBodyFeature? inner, long startTimestamp) : PipeWriter, IHttpResponseBodyFeature
{
    private readonly IHttpResponseBodyFeature _inner = inner!;
    private readonly PipeWriter _writer = inner?.Writer!;
    private bool? _attemptReused;

    /// <summary>The request's start, a <see cref="System.Diagnostics.Stopwatch"/> timestamp.</summary>
    public long StartTimestamp { get; } = startTimestamp;

    /// <summary>When the request started (UTC): set by the writer from <see cref="StartTimestamp"/>, so that the
    /// request path does not read the wall clock.</summary>
    public DateTime Time { get; set; }

    public string? Client { get; set; }

    public string Method { get; set; } = "";

    public string? Host { get; set; }

    /// <summary>The request target as the client sent it (path and query).</summary>
    public string Target { get; set; } = "";

    public string Protocol { get; set; } = "";

    public int Status { get; set; }

    /// <summary>Request body bytes read from the client.</summary>
    public long BytesIn { get; set; }

    /// <summary>Response body bytes written to the client (through <see cref="Writer"/>).</summary>
    public long BytesOut { get; private set; }

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

    internal CountingRequestBody? RequestBody { get; set; }

    public Stream Stream => _inner.Stream;

    public PipeWriter Writer => this;

    public override bool CanGetUnflushedBytes => _writer.CanGetUnflushedBytes;

    public override long UnflushedBytes => _writer.UnflushedBytes;

    public static AccessLogEntry? Of(HttpContext context) => context.Response.BodyWriter as AccessLogEntry;

    /// <summary>The entry of a request the server refused itself, before any response body existed.</summary>
    public static AccessLogEntry Refused(long startTimestamp) => new(null, startTimestamp);

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

    public override void Advance(int bytes)
    {
        BytesOut += bytes;
        _writer.Advance(bytes);
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => _writer.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => _writer.GetSpan(sizeHint);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => _writer.FlushAsync(cancellationToken);

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        BytesOut += source.Length;
        return _writer.WriteAsync(source, cancellationToken);
    }

    public override void CancelPendingFlush() => _writer.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => _writer.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => _writer.CompleteAsync(exception);

    public void DisableBuffering() => _inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => _inner.StartAsync(cancellationToken);

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        _inner.SendFileAsync(path, offset, count, cancellationToken);

    Task IHttpResponseBodyFeature.CompleteAsync() => _inner.CompleteAsync();

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
