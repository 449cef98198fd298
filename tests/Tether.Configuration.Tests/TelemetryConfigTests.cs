namespace Tether.Configuration.Tests;

/// <summary>telemetry (tracing, OTLP export) and admin.token: defaults, binding, the writer (secrets hidden), overrides, checks.</summary>
public sealed class TelemetryConfigTests
{
    [Fact]
    public void Absent_tracing_is_off_nothing_is_exported_and_admin_has_no_token()
    {
        var config = ConfigAssert.Valid("{}");
        Assert.Equal(0, config.Telemetry.Tracing.SampleRatio);
        Assert.Null(config.Telemetry.Otlp.Endpoint);
        Assert.Empty(config.Telemetry.Otlp.Headers);
        Assert.Equal(TimeSpan.FromSeconds(60), config.Telemetry.Otlp.ExportInterval);
        Assert.Null(config.Admin.Token);
    }

    [Fact]
    public void Every_key_is_read_and_the_writer_hides_the_secrets()
    {
        var config = ConfigAssert.Valid("""
            { "telemetry": { "tracing": { "sampleRatio": 0.25 },
                             "otlp": { "endpoint": "http://collector:4318", "headers": { "api-key": "k-123" }, "exportInterval": "15s" } },
              "admin": { "token": "0123456789abcdef0123" } }
            """);
        Assert.Equal(0.25, config.Telemetry.Tracing.SampleRatio);
        Assert.Equal("http://collector:4318", config.Telemetry.Otlp.Endpoint);
        Assert.Equal("k-123", config.Telemetry.Otlp.Headers["api-key"]);
        Assert.Equal(TimeSpan.FromSeconds(15), config.Telemetry.Otlp.ExportInterval);
        Assert.Equal("0123456789abcdef0123", config.Admin.Token);

        var json = ConfigWriter.ToJson(config);
        Assert.DoesNotContain("k-123", json, StringComparison.Ordinal);
        Assert.DoesNotContain("0123456789abcdef0123", json, StringComparison.Ordinal);
        Assert.Contains("\"sampleRatio\": 0.25", json, StringComparison.Ordinal);
        Assert.Contains("\"exportInterval\": \"15s\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Environment_variables_set_them()
    {
        var config = ConfigAssert.Valid("{}",
            ("TETHER__TELEMETRY__TRACING__SAMPLERATIO", "0.5"), ("TETHER__TELEMETRY__OTLP__ENDPOINT", "https://otel.example:4318/"),
            ("TETHER__ADMIN__TOKEN", "abcdefghijklmnopqrstuvwxyz"));
        Assert.Equal(0.5, config.Telemetry.Tracing.SampleRatio);
        Assert.Equal("https://otel.example:4318/", config.Telemetry.Otlp.Endpoint);
        Assert.Equal("abcdefghijklmnopqrstuvwxyz", config.Admin.Token);
    }

    [Theory]
    [InlineData("""{ "telemetry": { "tracing": { "sampleRatio": 1.5 }, "otlp": { "endpoint": "http://c:4318" } } }""", "telemetry.tracing.sampleRatio", "between 0 (tracing off) and 1")]
    [InlineData("""{ "telemetry": { "tracing": { "sampleRatio": "half" } } }""", "telemetry.tracing.sampleRatio", "expected a number such as 0.1")]
    [InlineData("""{ "telemetry": { "tracing": { "sampleRatio": 0.1 } } }""", "telemetry.tracing.sampleRatio", "set telemetry.otlp.endpoint")]
    [InlineData("""{ "telemetry": { "otlp": { "endpoint": "collector:4318" } } }""", "telemetry.otlp.endpoint", "http:// or https:// base URL")]
    [InlineData("""{ "telemetry": { "otlp": { "endpoint": "grpc://c:4317" } } }""", "telemetry.otlp.endpoint", "http:// or https:// base URL")]
    [InlineData("""{ "telemetry": { "otlp": { "endpoint": "http://c:4318", "exportInterval": "0s" } } }""", "telemetry.otlp.exportInterval", "more than zero")]
    [InlineData("""{ "telemetry": { "otlp": { "endpoint": "http://c:4318", "headers": { "a,b": "1" } } } }""", "telemetry.otlp.headers.a,b", "without ','")]
    [InlineData("""{ "telemetry": { "otlp": { "headers": { "k": 1 } } } }""", "telemetry.otlp.headers.k", "expected a string")]
    [InlineData("""{ "telemetry": { "otlp": { "endpont": "http://c:4318" } } }""", "telemetry.otlp.endpont", "did you mean 'endpoint'?")]
    [InlineData("""{ "admin": { "token": "short" } }""", "admin.token", "at least 16")]
    [InlineData("""{ "admin": { "token": "has spaces in it, sixteen+" } }""", "admin.token", "at least 16 letters, digits")]
    public void Bad_values_name_the_key_and_the_fix(string json, string path, string fix) => ConfigAssert.SingleError(json, path, fix);
}
