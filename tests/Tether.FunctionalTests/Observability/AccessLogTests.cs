using System.Text.Json;
using System.Text.RegularExpressions;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Observability;

/// <summary>accessLog over real sockets: the lines' fields in both formats, the queue that drops rather than waits,
/// and reopening the file after logrotate moved it.</summary>
public sealed partial class AccessLogTests(ITestOutputHelper output) : IDisposable
{
    private const string TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    private readonly string _folder = Directory.CreateTempSubdirectory("tether-access-").FullName;

    private string LogFile => Path.Combine(_folder, "access.log");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task A_proxied_request_is_one_json_line_and_the_next_on_its_connection_says_reused()
    {
        await using var origin = RawOrigin.Ok();
        await using var gateway = await StartAsync(TestGateway.ConfigFor(origin.Address), AccessLogFormat.Json);
        await using var client = await gateway.ConnectAsync();

        Assert.Equal(200, (await client.GetAsync("/items?id=1", "shop.test", "traceparent: " + TraceParent, "User-Agent: tester/1")).Status);
        Assert.Equal(200, (await client.GetAsync("/items?id=2", "shop.test")).Status);
        await client.SendAsync(RawClient.Request("POST", "/orders", "shop.test", "Content-Length: 5") + "hello");
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);

        var lines = await LinesAsync(3);
        var first = lines[0].RootElement;
        Assert.Equal("127.0.0.1", first.GetProperty("client").GetString());
        Assert.Equal("GET", first.GetProperty("method").GetString());
        Assert.Equal("shop.test", first.GetProperty("host").GetString());
        Assert.Equal("/items?id=1", first.GetProperty("path").GetString());
        Assert.Equal("HTTP/1.1", first.GetProperty("protocol").GetString());
        Assert.Equal(200, first.GetProperty("status").GetInt32());
        Assert.Equal(0, first.GetProperty("bytesIn").GetInt64());
        Assert.Equal("c1 r1".Length, first.GetProperty("bytesOut").GetInt64());
        Assert.InRange(first.GetProperty("duration").GetDouble(), 0.000001, 5);
        Assert.Equal("app", first.GetProperty("cluster").GetString());
        Assert.Equal(origin.Address, first.GetProperty("upstream").GetString());
        Assert.Equal("new", first.GetProperty("upstreamConnection").GetString());
        Assert.Equal(0, first.GetProperty("retries").GetInt32());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("errorPhase").ValueKind);
        Assert.Equal(JsonValueKind.Null, first.GetProperty("errorCause").ValueKind);
        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", first.GetProperty("traceId").GetString());
        Assert.Equal("tester/1", first.GetProperty("userAgent").GetString());
        Assert.True(DateTime.UtcNow - first.GetProperty("time").GetDateTime().ToUniversalTime() < TimeSpan.FromMinutes(1));

        var second = lines[1].RootElement;
        Assert.Equal("/items?id=2", second.GetProperty("path").GetString());
        Assert.Equal("reused", second.GetProperty("upstreamConnection").GetString());
        Assert.Equal(JsonValueKind.Null, second.GetProperty("traceId").ValueKind);

        var post = lines[2].RootElement;
        Assert.Equal("POST", post.GetProperty("method").GetString());
        Assert.Equal(5, post.GetProperty("bytesIn").GetInt64());
        Assert.Equal("reused", post.GetProperty("upstreamConnection").GetString());
        Assert.Equal(3, gateway.Gateway.Telemetry.AccessLog.Written);
    }

    [Fact]
    public async Task A_404_a_502_and_a_retried_request_say_what_happened()
    {
        await using var origin = RawOrigin.Ok();
        using var refusing = new RefusingPort();
        var noEjection = new HealthCheckConfig { Passive = new PassiveHealthCheckConfig { ConsecutiveFailures = 0 } };
        var config = TestGateway.ConfigFor(origin.Address) with
        {
            Routes =
            [
                new RouteConfig { Match = new RouteMatchConfig { PathPrefix = "/dead" }, Cluster = "dead" },
                new RouteConfig { Match = new RouteMatchConfig { PathPrefix = "/retry" }, Cluster = "retry" },
                new RouteConfig { Match = new RouteMatchConfig { Host = "app.test" }, Cluster = TestGateway.Cluster },
            ],
            Clusters = new Dictionary<string, ClusterConfig>
            {
                [TestGateway.Cluster] = TestGateway.ClusterFor(origin.Address),
                ["dead"] = TestGateway.ClusterFor(refusing.Address),
                ["retry"] = TestGateway.ClusterFor(refusing.Address, origin.Address) with { LoadBalancing = LoadBalancingPolicyNames.RoundRobin, HealthCheck = noEjection },
            },
        };
        await using var gateway = await StartAsync(config, AccessLogFormat.Json);
        await using var client = await gateway.ConnectAsync();

        Assert.Equal(404, (await client.GetAsync("/nothing", "other.test")).Status);
        Assert.Equal(502, (await client.GetAsync("/dead/x")).Status);
        Assert.Equal(200, (await client.GetAsync("/retry/1")).Status);
        Assert.Equal(200, (await client.GetAsync("/retry/2")).Status);

        var lines = (await LinesAsync(4)).Select(l => l.RootElement).ToList();
        var notFound = lines[0];
        Assert.Equal(404, notFound.GetProperty("status").GetInt32());
        Assert.Equal(JsonValueKind.Null, notFound.GetProperty("cluster").ValueKind);
        Assert.Equal(JsonValueKind.Null, notFound.GetProperty("upstream").ValueKind);
        Assert.True(notFound.GetProperty("bytesOut").GetInt64() > 0, "the 404 text counts as bytes out");

        var failed = lines[1];
        Assert.Equal(502, failed.GetProperty("status").GetInt32());
        Assert.Equal("dead", failed.GetProperty("cluster").GetString());
        Assert.Equal(refusing.Address, failed.GetProperty("upstream").GetString());
        Assert.Equal(JsonValueKind.Null, failed.GetProperty("upstreamConnection").ValueKind);
        Assert.Equal("connect", failed.GetProperty("errorPhase").GetString());
        Assert.Equal("refused", failed.GetProperty("errorCause").GetString());

        // Round robin sends one of the two first to the refusing destination: that one was retried on the origin.
        var retried = lines.Skip(2).Single(l => l.GetProperty("retries").GetInt32() == 1);
        var direct = lines.Skip(2).Single(l => l.GetProperty("retries").GetInt32() == 0);
        foreach (var line in new[] { retried, direct })
        {
            Assert.Equal(200, line.GetProperty("status").GetInt32());
            Assert.Equal("retry", line.GetProperty("cluster").GetString());
            Assert.Equal(origin.Address, line.GetProperty("upstream").GetString());
            Assert.Equal(JsonValueKind.Null, line.GetProperty("errorPhase").ValueKind);
        }
    }

    [Fact]
    public async Task The_combined_format_is_nginx_combined_with_the_request_time_and_the_upstream()
    {
        await using var origin = RawOrigin.Ok();
        var config = TestGateway.ConfigFor(origin.Address) with
        {
            Routes = [new RouteConfig { Match = new RouteMatchConfig { Host = "app.test" }, Cluster = TestGateway.Cluster }],
        };
        await using var gateway = await StartAsync(config, AccessLogFormat.Combined);
        await using var client = await gateway.ConnectAsync();

        Assert.Equal(200, (await client.GetAsync("/a%20b?q=1", "app.test", "User-Agent: tester \"q\"", "Referer: http://ref.test/")).Status);
        Assert.Equal(404, (await client.GetAsync("/missing", "other.test")).Status);

        var lines = await RawLinesAsync(2);
        Assert.Matches(CombinedLine(), lines[0]);
        Assert.Contains(" \"GET /a%20b?q=1 HTTP/1.1\" 200 5 \"http://ref.test/\" \"tester \\x22q\\x22\" ", lines[0], StringComparison.Ordinal);
        Assert.EndsWith(" " + origin.Address, lines[0], StringComparison.Ordinal);
        Assert.Matches(CombinedLine(), lines[1]);
        Assert.Contains("\"GET /missing HTTP/1.1\" 404 ", lines[1], StringComparison.Ordinal);
        Assert.EndsWith(" -", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_combined_format_logs_a_502_and_a_retried_request_with_the_upstream_that_answered()
    {
        await using var origin = RawOrigin.Ok();
        using var refusing = new RefusingPort();
        var noEjection = new HealthCheckConfig { Passive = new PassiveHealthCheckConfig { ConsecutiveFailures = 0 } };
        var config = TestGateway.ConfigFor(origin.Address) with
        {
            Routes =
            [
                new RouteConfig { Match = new RouteMatchConfig { PathPrefix = "/dead" }, Cluster = "dead" },
                new RouteConfig { Cluster = "retry" },
            ],
            Clusters = new Dictionary<string, ClusterConfig>
            {
                ["dead"] = TestGateway.ClusterFor(refusing.Address),
                ["retry"] = TestGateway.ClusterFor(refusing.Address, origin.Address) with { LoadBalancing = LoadBalancingPolicyNames.RoundRobin, HealthCheck = noEjection },
            },
        };
        await using var gateway = await StartAsync(config, AccessLogFormat.Combined);
        await using var client = await gateway.ConnectAsync();

        Assert.Equal(502, (await client.GetAsync("/dead/x")).Status);
        Assert.Equal(200, (await client.GetAsync("/retry/1")).Status);
        Assert.Equal(200, (await client.GetAsync("/retry/2")).Status);

        var lines = await RawLinesAsync(3);
        Assert.All(lines, l => Assert.Matches(CombinedLine(), l));
        Assert.Contains("\"GET /dead/x HTTP/1.1\" 502 ", lines[0], StringComparison.Ordinal);
        Assert.EndsWith(" " + refusing.Address, lines[0], StringComparison.Ordinal);

        // Both answered by the origin, one of them after a refused first attempt (round robin): the upstream is the one that answered.
        Assert.All(lines.Skip(1), l => Assert.EndsWith(" " + origin.Address, l, StringComparison.Ordinal));
        Assert.Equal(1, gateway.Gateway.Counters.Errors(Upstream.UpstreamPhase.Connect, Upstream.UpstreamErrorKind.Refused));
    }

    [Fact]
    public async Task Requests_the_server_refuses_itself_get_a_line_with_their_status_and_never_reach_the_backend()
    {
        await using var origin = RawOrigin.Ok();
        await using var gateway = await StartAsync(TestGateway.ConfigFor(origin.Address), AccessLogFormat.Json);

        // A header line with no colon: 400. A header over maxRequestHeadersSize (32 KB by default): 431.
        await using (var client = await gateway.ConnectAsync())
        {
            await client.SendAsync("GET /bad HTTP/1.1\r\nHost: app.test\r\nno colon here\r\n\r\n");
            Assert.Equal(400, (await client.ReadResponseAsync()).Status);
        }

        await using (var client = await gateway.ConnectAsync())
        {
            await client.SendAsync("GET /big HTTP/1.1\r\nHost: app.test\r\nX-Big: " + new string('a', 40 * 1024) + "\r\n\r\n");
            Assert.Equal(431, (await client.ReadResponseAsync()).Status);
        }

        var lines = (await LinesAsync(2)).Select(l => l.RootElement).OrderBy(l => l.GetProperty("status").GetInt32()).ToList();
        Assert.Equal([400, 431], lines.Select(l => l.GetProperty("status").GetInt32()));
        Assert.Equal(["/bad", "/big"], lines.Select(l => l.GetProperty("path").GetString()));
        Assert.All(lines, l =>
        {
            Assert.Equal("127.0.0.1", l.GetProperty("client").GetString());
            Assert.Equal(JsonValueKind.Null, l.GetProperty("upstream").ValueKind);
            Assert.Equal(JsonValueKind.Null, l.GetProperty("cluster").ValueKind);
        });
        Assert.Empty(origin.Requests);
    }

    [Fact]
    public async Task A_full_queue_drops_and_counts_lines_and_never_holds_a_request()
    {
        await using var origin = RawOrigin.Ok();
        using var stalled = new StalledStream();
        var config = TestGateway.ConfigFor(origin.Address) with { AccessLog = new AccessLogConfig { Path = "stdout", QueueSize = 2 } };
        await using var gateway = await TestGateway.StartAsync(config, output: output, options: o => o with { AccessLogStdout = () => stalled });
        await using var client = await gateway.ConnectAsync();

        // The writer blocks on its first write; every request still gets its answer at once.
        var started = TimeProvider.System.GetTimestamp();
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(200, (await client.GetAsync($"/{i}")).Status);
        }

        Assert.True(TimeProvider.System.GetElapsedTime(started) < TimeSpan.FromSeconds(5), "requests waited for the stalled log");
        Assert.True(stalled.WriteStarted.Wait(TimeSpan.FromSeconds(5)), "the writer never wrote");
        var log = gateway.Gateway.Telemetry.AccessLog;
        Assert.Equal(0, log.Written);
        Assert.InRange(log.Dropped, 20 - 2 - 2, 20 - 2); // the queue holds 2, the stalled writer at most the 2 it took

        using var http = new HttpClient { BaseAddress = gateway.AdminUrl };
        var metrics = await http.GetStringAsync("/metrics");
        Assert.Contains($"\ntether_access_log_lines_dropped_total{{reason=\"queueFull\"}} {log.Dropped}\n", metrics, StringComparison.Ordinal);
        using (var status = JsonDocument.Parse(await http.GetStringAsync("/status")))
        {
            Assert.Equal(log.Dropped, status.RootElement.GetProperty("accessLog").GetProperty("dropped").GetInt64());
        }

        stalled.Release();
        await Eventually.TrueAsync(() => log.Written + log.Dropped == 20, $"written {log.Written} + dropped {log.Dropped} != 20");
        Assert.Equal(log.Written, stalled.Lines);
    }

    [Fact]
    public async Task Reopen_after_a_rename_writes_to_a_new_file_as_logrotate_expects()
    {
        await using var origin = RawOrigin.Ok();
        await using var gateway = await StartAsync(TestGateway.ConfigFor(origin.Address), AccessLogFormat.Json);
        await using var client = await gateway.ConnectAsync();
        var rotated = LogFile + ".1";

        await client.GetAsync("/before");
        await LinesAsync(1);
        File.Move(LogFile, rotated);
        await client.GetAsync("/between"); // still the open file, now named .1 (as nginx before its reopen)
        await Eventually.TrueAsync(() => File.ReadAllLines(rotated).Length == 2, "the second line did not reach the renamed file");

        gateway.Gateway.ReopenLogs();
        await client.GetAsync("/after");

        var after = await LinesAsync(1);
        Assert.Equal("/after", after[0].RootElement.GetProperty("path").GetString());
        Assert.Equal(["/before", "/between"], File.ReadAllLines(rotated).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("path").GetString()));
        Assert.Single(gateway.Logs.Named("AccessLogReopened"));
    }

    [GeneratedRegex("""^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "[^"]*" \d{3} \d+ "[^"]*" "[^"]*" \d+\.\d{3} \S+$""")]
    private static partial Regex CombinedLine();

    private Task<TestGateway> StartAsync(TetherConfig config, AccessLogFormat format) =>
        TestGateway.StartAsync(config with { AccessLog = new AccessLogConfig { Path = LogFile, Format = format } }, output: output);

    private async Task<string[]> RawLinesAsync(int count)
    {
        string[] lines = [];
        await Eventually.TrueAsync(
            () => File.Exists(LogFile) && (lines = File.ReadAllLines(LogFile)).Length >= count,
            $"the access log has {lines.Length} line(s), expected {count}");
        Assert.Equal(count, lines.Length);
        foreach (var line in lines)
        {
            output.WriteLine(line);
        }

        return lines;
    }

    private async Task<JsonDocument[]> LinesAsync(int count) => [.. (await RawLinesAsync(count)).Select(l => JsonDocument.Parse(l))];

    /// <summary>A sink whose writes block until released: the access log's disk or pipe stopped taking bytes.</summary>
    private sealed class StalledStream : Stream
    {
        private readonly ManualResetEventSlim _release = new();

        public ManualResetEventSlim WriteStarted { get; } = new();

        public int Lines { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public void Release() => _release.Set();

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            WriteStarted.Set();
            _release.Wait(TimeSpan.FromSeconds(30));
            Lines += buffer.Count((byte)'\n');
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _release.Set();
                _release.Dispose();
                WriteStarted.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
