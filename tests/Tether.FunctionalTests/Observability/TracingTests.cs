using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Tether.FunctionalTests.Otlp;
using Tether.Upstream.LoadBalancing;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Observability;

/// <summary>
/// Traces over real sockets: spans exported over OTLP/HTTP to a small collector in the test, whose trace ids are the
/// ones the backend received in traceparent, on HTTP/1.1 and HTTP/2 backends; at sampleRatio 0 no span at all.
/// </summary>
public sealed class TracingTests(ITestOutputHelper output) : IDisposable
{
    private const string ClientTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string OtherTraceId = "0af7651916cd43dd8448eb211c80319c";
    private const string ClientSpanId = "00f067aa0ba902b7";

    private readonly string _folder = Directory.CreateTempSubdirectory("tether-trace-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task A_traced_request_exports_its_server_span_and_a_client_span_per_attempt_with_the_trace_id_the_backend_received()
    {
        await using var collector = await OtlpCollector.StartAsync();
        await using var origin = RawOrigin.Ok();
        using var refusing = new RefusingPort();
        var accessLog = Path.Combine(_folder, "access.log");
        var config = TestGateway.ConfigFor(origin.Address) with
        {
            Clusters = new Dictionary<string, ClusterConfig>
            {
                [TestGateway.Cluster] = TestGateway.ClusterFor(refusing.Address, origin.Address) with
                {
                    LoadBalancing = LoadBalancingPolicyNames.RoundRobin,
                    HealthCheck = new HealthCheckConfig { Passive = new PassiveHealthCheckConfig { ConsecutiveFailures = 0 } },
                },
            },
            AccessLog = new AccessLogConfig { Path = accessLog, Format = AccessLogFormat.Json },
            Telemetry = Traced(collector) with { Otlp = Traced(collector).Otlp with { Headers = new Dictionary<string, string> { ["x-api-key"] = "secret-1" } } },
        };
        var gateway = await TestGateway.StartAsync(config, output: output);
        await using (gateway)
        {
            await using var client = await gateway.ConnectAsync();
            Assert.Equal(200, (await client.GetAsync("/a", headers: [$"traceparent: 00-{ClientTraceId}-{ClientSpanId}-01", "tracestate: vendor=1"])).Status);
            Assert.Equal(200, (await client.GetAsync("/b", headers: $"traceparent: 00-{OtherTraceId}-{ClientSpanId}-01")).Status);
            Assert.Equal(200, (await client.GetAsync("/c")).Status);
            await Eventually.TrueAsync(() => gateway.Gateway.Telemetry.AccessLog.Written == 3, "three access-log lines written");
        }

        // Disposing the gateway flushed the spans and a last collection of the metrics.
        var spans = collector.Spans;
        foreach (var span in spans)
        {
            output.WriteLine($"{span.Kind} {span.Name} trace={span.TraceIdHex()} span={span.SpanIdHex()} parent={span.ParentIdHex()} {string.Join(' ', span.Attributes.Select(a => a.Key + "=" + a.Value))}");
        }

        var received = origin.Requests.Select(r => Traceparent.Parse(r.Head.Get("traceparent")!)).ToList();
        Assert.Equal(3, received.Count);
        Assert.All(origin.Requests, r => Assert.Single(r.Head.Headers, h => h.Key.Equals("traceparent", StringComparison.OrdinalIgnoreCase)));
        Assert.Equal([ClientTraceId, OtherTraceId], received.Take(2).Select(t => t.TraceId));
        Assert.Equal("vendor=1", origin.Requests[0].Head.Get("tracestate"));
        var logLines = File.ReadAllLines(accessLog).Select(l => JsonDocument.Parse(l).RootElement).ToList();

        var attemptsSeen = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            var backend = received[i];
            var trace = spans.Where(s => s.TraceIdHex() == backend.TraceId).ToList();
            var server = Assert.Single(trace, s => s.Kind == Span.Types.SpanKind.Server);
            Assert.Equal(i < 2 ? ClientSpanId : "", server.ParentIdHex());
            Assert.Equal(200, server.Attribute("http.response.status_code")!.IntValue);
            Assert.Equal(TestGateway.Cluster, server.Attribute("tether.cluster")!.StringValue);

            // One client span per attempt, children of the server span, numbered; the backend's parent is the last.
            var attempts = trace.Where(s => s.Kind == Span.Types.SpanKind.Client).OrderBy(s => s.Attribute("tether.attempt")!.IntValue).ToList();
            Assert.NotEmpty(attempts);
            Assert.All(attempts, a => Assert.Equal(server.SpanIdHex(), a.ParentIdHex()));
            Assert.Equal(Enumerable.Range(1, attempts.Count).Select(n => (long)n), attempts.Select(a => a.Attribute("tether.attempt")!.IntValue));
            var last = attempts[^1];
            Assert.Equal(backend.ParentId, last.SpanIdHex());
            Assert.Equal(origin.Address, last.Attribute("tether.destination")!.StringValue);
            Assert.Equal(200, last.Attribute("http.response.status_code")!.IntValue);
            Assert.NotNull(last.Attribute("tether.connection.reused"));
            foreach (var failed in attempts.SkipLast(1))
            {
                Assert.Equal(refusing.Address, failed.Attribute("tether.destination")!.StringValue);
                Assert.Equal("connect", failed.Attribute("tether.error.phase")!.StringValue);
                Assert.Equal("refused", failed.Attribute("error.type")!.StringValue);
                Assert.Equal(Status.Types.StatusCode.Error, failed.Status.Code);
            }

            attemptsSeen.Add(attempts.Count);
            Assert.Equal(backend.TraceId, logLines[i].GetProperty("traceId").GetString());
        }

        // Round robin sent one request of three to the refusing destination first: that one shows its retry.
        Assert.Contains(2, attemptsSeen);
        Assert.Contains("http.server.request.duration", collector.MetricNames);
        Assert.Contains("tether.upstream.pool.idle", collector.MetricNames);
        Assert.All(collector.Headers, h => Assert.Equal("secret-1", h["x-api-key"].ToString()));
    }

    [Fact]
    public async Task An_HTTP_2_backend_gets_the_attempt_span_as_its_parent_and_the_clients_tracestate()
    {
        await using var collector = await OtlpCollector.StartAsync();
        var seen = new ConcurrentQueue<(string? TraceParent, string? TraceState)>();
        await using var backend = await KestrelBackend.StartAsync(app => app.MapGet("/", (HttpContext c) =>
        {
            seen.Enqueue((c.Request.Headers.TraceParent.ToString(), c.Request.Headers.TraceState.ToString()));
            return "ok";
        }));
        var config = TestGateway.ConfigFor(backend.Destination) with { Telemetry = Traced(collector) };
        config = config with { Clusters = new Dictionary<string, ClusterConfig> { [TestGateway.Cluster] = config.Clusters[TestGateway.Cluster] with { Protocol = UpstreamProtocol.Http2 } } };
        var gateway = await TestGateway.StartAsync(config, output: output);
        await using (gateway)
        {
            await using var client = await gateway.ConnectAsync();
            Assert.Equal(200, (await client.GetAsync("/", headers: [$"traceparent: 00-{ClientTraceId}-{ClientSpanId}-01", "tracestate: vendor=2"])).Status);
        }

        var (traceParent, traceState) = Assert.Single(seen);
        var received = Traceparent.Parse(traceParent!);
        Assert.Equal(ClientTraceId, received.TraceId);
        Assert.Equal("vendor=2", traceState);
        var attempt = Assert.Single(collector.Spans, s => s.Kind == Span.Types.SpanKind.Client && s.TraceIdHex() == ClientTraceId);
        Assert.Equal(received.ParentId, attempt.SpanIdHex());
        Assert.False(attempt.Attribute("tether.connection.reused")!.BoolValue, "the first stream opened the connection");
        var server = Assert.Single(collector.Spans, s => s.Kind == Span.Types.SpanKind.Server && s.TraceIdHex() == ClientTraceId);
        Assert.Equal(server.SpanIdHex(), attempt.ParentIdHex());
    }

    [Fact]
    public async Task At_sample_ratio_0_no_span_is_made_and_the_clients_traceparent_reaches_the_backend_as_sent()
    {
        var started = new ConcurrentQueue<string>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Tether",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = a => started.Enqueue(a.TraceId.ToHexString()),
        };
        ActivitySource.AddActivityListener(listener);
        await using var origin = RawOrigin.Ok();
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        var sent = $"00-{ClientTraceId}-{ClientSpanId}-01";
        Assert.Equal(200, (await client.GetAsync("/", headers: [$"traceparent: {sent}", "tracestate: vendor=3"])).Status);

        Assert.Equal(sent, origin.Requests[0].Head.Get("traceparent"));
        Assert.Equal("vendor=3", origin.Requests[0].Head.Get("tracestate"));
        Assert.DoesNotContain(ClientTraceId, started);
    }

    private static TelemetryConfig Traced(OtlpCollector collector) => new()
    {
        Tracing = new TracingConfig { SampleRatio = 1 },
        Otlp = new OtlpConfig { Endpoint = collector.Endpoint, ExportInterval = TimeSpan.FromSeconds(30) },
    };

    private readonly record struct Traceparent(string TraceId, string ParentId)
    {
        public static Traceparent Parse(string value)
        {
            var parts = value.Split('-');
            Assert.Equal(4, parts.Length);
            Assert.Equal("00", parts[0]);
            return new Traceparent(parts[1], parts[2]);
        }
    }
}
