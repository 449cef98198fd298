using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Observability;

/// <summary>The telemetry model: request and exchange durations, process figures and the build in /metrics and
/// /status, read from one snapshot, and the same figures on the Tether meter.</summary>
public sealed class TelemetryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Metrics_have_request_durations_by_route_method_and_status_class_and_exchange_durations_by_destination()
    {
        await using var origin = RawOrigin.Ok();
        var config = TestGateway.ConfigFor(origin.Address) with
        {
            Routes = [new RouteConfig { Match = new RouteMatchConfig { PathPrefix = "/api" }, Cluster = TestGateway.Cluster }],
        };
        await using var gateway = await TestGateway.StartAsync(config, output: output);
        await using var client = await gateway.ConnectAsync();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(200, (await client.GetAsync("/api/x")).Status);
        }

        Assert.Equal(404, (await client.GetAsync("/elsewhere")).Status);
        await client.SendAsync(RawClient.Request("POST", "/api/y", "tether.test", "Content-Length: 0"));
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);

        using var http = new HttpClient { BaseAddress = gateway.AdminUrl };
        var metrics = await http.GetStringAsync("/metrics");
        output.WriteLine(metrics);
        var get = "cluster=\"app\",route=\"/api\",method=\"GET\",status_class=\"2xx\"";
        Assert.Contains("# TYPE tether_request_duration_seconds histogram\n", metrics, StringComparison.Ordinal);
        Assert.Contains($"\ntether_request_duration_seconds_count{{{get}}} 3\n", metrics, StringComparison.Ordinal);
        Assert.Contains($"\ntether_request_duration_seconds_bucket{{{get},le=\"+Inf\"}} 3\n", metrics, StringComparison.Ordinal);
        Assert.Contains($"\ntether_request_duration_seconds_bucket{{{get},le=\"0.0005\"}} ", metrics, StringComparison.Ordinal);
        Assert.Contains("\ntether_request_duration_seconds_count{cluster=\"app\",route=\"/api\",method=\"POST\",status_class=\"2xx\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("\ntether_request_duration_seconds_count{cluster=\"\",route=\"\",method=\"GET\",status_class=\"4xx\"} 1\n", metrics, StringComparison.Ordinal);
        var destination = $"cluster=\"app\",destination=\"{origin.Address}\"";
        Assert.Contains($"\ntether_upstream_exchange_duration_seconds_count{{{destination}}} 4\n", metrics, StringComparison.Ordinal);
        Assert.Contains("\ntether_requests_not_found_total 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains($"\ntether_upstream_learned_idle_timeout_seconds{{{destination}}} 0\n", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("_milliseconds", metrics, StringComparison.Ordinal);

        Assert.Matches("\ntether_build_info\\{version=\"\\d+\\.\\d+\\.\\d+\",commit=\"[0-9a-f]*\",runtime=\"10\\.[0-9.]+\"\\} 1\n", metrics);
        Assert.True(Value(metrics, "process_cpu_seconds_total") > 0);
        Assert.True(Value(metrics, "process_resident_memory_bytes") > 1_000_000);
        Assert.True(Value(metrics, "process_open_fds") > 0);
        Assert.True(Value(metrics, "dotnet_threadpool_threads") > 0);
        Assert.True(Value(metrics, "dotnet_gc_allocated_bytes_total") > 0);
        Assert.Contains("\ndotnet_gc_collections_total{generation=\"gen2\"} ", metrics, StringComparison.Ordinal);
        Assert.Contains("\ndotnet_threadpool_queue_length ", metrics, StringComparison.Ordinal);

        var statusText = await http.GetStringAsync("/status");
        output.WriteLine(statusText);
        Assert.DoesNotContain("\\u", statusText, StringComparison.Ordinal);
        Assert.Contains("\"+Inf\"", statusText, StringComparison.Ordinal);
        using var status = JsonDocument.Parse(statusText);
        var routes = status.RootElement.GetProperty("routes");
        var api = routes.EnumerateArray().Single(r => r.GetProperty("route").GetString() == "/api");
        Assert.Equal("app", api.GetProperty("cluster").GetString());
        Assert.Equal(4, api.GetProperty("requests").GetInt64());
        Assert.Equal(4, api.GetProperty("statusClasses").GetProperty("2xx").GetInt64());
        Assert.Equal(4, api.GetProperty("duration").GetProperty("count").GetInt64());
        var unrouted = routes.EnumerateArray().Single(r => r.GetProperty("route").ValueKind == JsonValueKind.Null);
        Assert.Equal(1, unrouted.GetProperty("statusClasses").GetProperty("4xx").GetInt64());
        var exchange = status.RootElement.GetProperty("clusters").GetProperty("app").GetProperty("destinations").GetProperty(origin.Address).GetProperty("exchangeDuration");
        Assert.Equal(4, exchange.GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task A_reload_that_keeps_a_route_keeps_its_durations()
    {
        await using var origin = RawOrigin.Ok();
        var config = TestGateway.ConfigFor(origin.Address);
        await using var gateway = await TestGateway.StartAsync(config, output: output);
        await using var client = await gateway.ConnectAsync();
        Assert.Equal(200, (await client.GetAsync("/")).Status);

        await gateway.Gateway.ApplyAsync(config with { Drain = new DrainConfig { Timeout = TimeSpan.FromSeconds(9) } }, "test", CancellationToken.None);
        Assert.Equal(200, (await client.GetAsync("/")).Status);

        // The duration is recorded when the request delegate returns, which can be just after the client has read the
        // whole response (the engine sends a Content-Length body as it is written).
        var route = Assert.Single(gateway.Gateway.Model.Routes.Statistics);
        await Eventually.TrueAsync(() => route.Series().Sum(s => s.Histogram.Count) >= 2, "both requests' durations recorded");
        Assert.Equal(2, route.Series().Sum(s => s.Histogram.Count));
    }

    [Fact]
    public async Task The_Tether_meter_reports_the_counters_and_each_requests_duration()
    {
        await using var origin = RawOrigin.Ok();
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        var observed = new Dictionary<string, double>();
        var durations = new List<(double Seconds, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, gateway.Gateway.Meter))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            lock (observed)
            {
                if (instrument.Name == "http.server.request.duration")
                {
                    var map = new Dictionary<string, object?>();
                    foreach (var tag in tags)
                    {
                        map[tag.Key] = tag.Value;
                    }

                    durations.Add((value, map));
                }
                else if (instrument.Name == "tether.upstream.connections.reused")
                {
                    observed[instrument.Name] = value;
                }
                else if (tags.Length == 0)
                {
                    observed[instrument.Name] = value;
                }
            }
        });
        listener.Start();
        Assert.Equal("Tether", gateway.Gateway.Meter.Name);

        await using var client = await gateway.ConnectAsync();
        Assert.Equal(200, (await client.GetAsync("/")).Status);
        Assert.Equal(200, (await client.GetAsync("/")).Status);
        listener.RecordObservableInstruments();

        lock (observed)
        {
            Assert.Equal(2, observed["tether.requests"]);
            Assert.Equal(1, observed["tether.connections.accepted"]);
            Assert.Equal(1, observed["tether.upstream.connections.reused"]);
            Assert.Equal(2, durations.Count);
            Assert.All(durations, d =>
            {
                Assert.InRange(d.Seconds, 0, 5);
                Assert.Equal("app", d.Tags["tether.cluster"]);
                Assert.Equal("/", d.Tags["http.route"]);
                Assert.Equal("GET", d.Tags["http.request.method"]);
                Assert.Equal(200, d.Tags["http.response.status_code"]);
            });
        }
    }

    [Fact]
    public async Task Every_metric_family_is_documented_in_operations_md()
    {
        await using var origin = RawOrigin.Ok();
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(folder.FullName, "Tether.slnx")))
        {
            folder = folder.Parent ?? throw new InvalidOperationException("repository root not found");
        }

        var docs = File.ReadAllText(Path.Combine(folder.FullName, "docs", "operations.md"));
        var families = Gateway.Observability.MetricFamilies.From(Gateway.Observability.TelemetrySnapshot.Take(gateway.Gateway));
        Assert.All(families, f =>
        {
            // | `name` | type | unit | `label`, `label` | what |: the unit from the name's suffix, the labels as the code has them.
            var unit = f.Name.Contains("_seconds", StringComparison.Ordinal) ? "seconds" : f.Name.Contains("_bytes", StringComparison.Ordinal) ? "bytes" : "";
            var labels = string.Join(", ", f.Labels.Select(l => $"`{l}`"));
            string[] cells = [$"`{f.Name}`", f.Type.ToString().ToLowerInvariant(), unit, labels];
            var row = "|" + string.Concat(cells.Select(c => c.Length == 0 ? " |" : $" {c} |")) + " ";
            Assert.Contains(row, docs, StringComparison.Ordinal);
        });
    }

    private static double Value(string metrics, string name)
    {
        var line = metrics.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal));
        return double.Parse(line[(name.Length + 1)..], CultureInfo.InvariantCulture);
    }
}
