using System.Collections.Concurrent;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Tether.FunctionalTests.Otlp;

namespace Tether.FunctionalTests.Infrastructure;

/// <summary>
/// A small OTLP/HTTP receiver (http/protobuf) on 127.0.0.1:0, as a collector would be: POST /v1/traces and
/// /v1/metrics, each body decoded with the OTLP messages of Observability/otlp.proto, with the headers it came with.
/// </summary>
internal sealed class OtlpCollector : IAsyncDisposable
{
    private readonly KestrelBackend _server;

    private OtlpCollector(KestrelBackend server, ConcurrentQueue<Span> spans, ConcurrentQueue<string> metrics, ConcurrentQueue<IHeaderDictionary> headers)
    {
        _server = server;
        SpansQueue = spans;
        MetricsQueue = metrics;
        HeadersQueue = headers;
    }

    /// <summary>The base URL to give as telemetry.otlp.endpoint.</summary>
    public string Endpoint => $"http://127.0.0.1:{_server.Port}";

    public IReadOnlyList<Span> Spans => [.. SpansQueue];

    /// <summary>The names of the metrics received (one per metric per export).</summary>
    public IReadOnlyList<string> MetricNames => [.. MetricsQueue];

    /// <summary>The headers of every export received.</summary>
    public IReadOnlyList<IHeaderDictionary> Headers => [.. HeadersQueue];

    private ConcurrentQueue<Span> SpansQueue { get; }

    private ConcurrentQueue<string> MetricsQueue { get; }

    private ConcurrentQueue<IHeaderDictionary> HeadersQueue { get; }

    public static async Task<OtlpCollector> StartAsync()
    {
        var spans = new ConcurrentQueue<Span>();
        var metrics = new ConcurrentQueue<string>();
        var headers = new ConcurrentQueue<IHeaderDictionary>();
        var server = await KestrelBackend.StartAsync(app =>
        {
            app.MapPost("/v1/traces", async context =>
            {
                var request = ExportTraceServiceRequest.Parser.ParseFrom(await ReadAsync(context, headers));
                foreach (var span in request.ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans))
                {
                    spans.Enqueue(span);
                }

                context.Response.ContentType = "application/x-protobuf";
            });
            app.MapPost("/v1/metrics", async context =>
            {
                var request = ExportMetricsServiceRequest.Parser.ParseFrom(await ReadAsync(context, headers));
                foreach (var metric in request.ResourceMetrics.SelectMany(r => r.ScopeMetrics).SelectMany(s => s.Metrics))
                {
                    metrics.Enqueue(metric.Name);
                }

                context.Response.ContentType = "application/x-protobuf";
            });
        }, HttpProtocols.Http1);
        return new OtlpCollector(server, spans, metrics, headers);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private static async Task<byte[]> ReadAsync(HttpContext context, ConcurrentQueue<IHeaderDictionary> headers)
    {
        Assert.Equal("application/x-protobuf", context.Request.ContentType);
        headers.Enqueue(new HeaderDictionary(context.Request.Headers.ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase))); // Kestrel reuses its own
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        return body.ToArray();
    }
}

internal static class OtlpSpans
{
    public static string TraceIdHex(this Span span) => Convert.ToHexStringLower(span.TraceId.Span);

    public static string SpanIdHex(this Span span) => Convert.ToHexStringLower(span.SpanId.Span);

    public static string ParentIdHex(this Span span) => Convert.ToHexStringLower(span.ParentSpanId.Span);

    public static AnyValue? Attribute(this Span span, string key) => span.Attributes.FirstOrDefault(a => a.Key == key)?.Value;

    public static ByteString Empty => ByteString.Empty;
}
