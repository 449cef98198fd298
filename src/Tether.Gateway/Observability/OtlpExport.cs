using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Tether.Configuration;

namespace Tether.Gateway.Observability;

/// <summary>
/// OTLP/HTTP (http/protobuf) export with the OpenTelemetry SDK, while <c>telemetry.otlp.endpoint</c> is set: the
/// spans of <see cref="RequestTracing"/> (sampled at <c>telemetry.tracing.sampleRatio</c>, parent-based: a client's
/// sampled traceparent is followed) to /v1/traces, batched; the <c>Tether</c> meter and the runtime's
/// (<c>System.Runtime</c>) to /v1/metrics every <c>exportInterval</c>. Disposing flushes what is left.
/// </summary>
/// <remarks>The SDK listens by source and meter name: two gateways in one process (tests) each export both's.</remarks>
internal sealed class OtlpExport : IDisposable
{
    private readonly TracerProvider? _tracer;
    private readonly MeterProvider _meter;

    private OtlpExport(TracerProvider? tracer, MeterProvider meter)
    {
        _tracer = tracer;
        _meter = meter;
    }

    /// <summary>Starts exporting, or returns null while no endpoint is configured.</summary>
    public static OtlpExport? Start(TelemetryConfig config)
    {
        var otlp = config.Otlp;
        if (otlp.Endpoint is not { } endpoint)
        {
            return null;
        }

        var baseUrl = endpoint.TrimEnd('/');
        var headers = string.Join(",", otlp.Headers.Select(h => h.Key + "=" + h.Value));
        var resource = ResourceBuilder.CreateEmpty().AddService("tether", serviceVersion: TelemetrySnapshot.Build.Version, serviceInstanceId: Environment.MachineName);

        // The SDK appends no path to an endpoint set in code: each signal gets its own, as
        // OTEL_EXPORTER_OTLP_ENDPOINT's base URL would give them.
        void Configure(OtlpExporterOptions options, string path)
        {
            options.Protocol = OtlpExportProtocol.HttpProtobuf;
            options.Endpoint = new Uri(baseUrl + path);
            options.Headers = headers;
        }

        TracerProvider? tracer = null;
        var ratio = config.Tracing.SampleRatio;
        if (ratio > 0)
        {
            tracer = Sdk.CreateTracerProviderBuilder()
                .SetResourceBuilder(resource)
                .AddSource(RequestTracing.SourceName)
                .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(ratio)))
                .AddOtlpExporter(o => Configure(o, "/v1/traces"))
                .Build();
        }

        var meter = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(resource)
            .AddMeter(TetherMeter.Name, "System.Runtime")
            .AddOtlpExporter((o, reader) =>
            {
                Configure(o, "/v1/metrics");
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)Math.Min(int.MaxValue, otlp.ExportInterval.TotalMilliseconds);
            })
            .Build();
        return new OtlpExport(tracer, meter);
    }

    public void Dispose()
    {
        _tracer?.Dispose();
        _meter.Dispose();
    }
}
