using System.Text.Json.Nodes;

namespace Tether.Configuration.Binding;

/// <summary>The operations keys: drain, recycle, accessLog, telemetry.</summary>
internal static partial class ConfigBinder
{
    private static DrainConfig BindDrain(ObjectReader reader)
    {
        var defaults = new DrainConfig();
        var drain = new DrainConfig
        {
            Delay = reader.Read("delay", defaults.Delay, ValueParsers.Duration),
            Timeout = reader.Read("timeout", defaults.Timeout, ValueParsers.Duration),
        };
        reader.Finish();
        return drain;
    }

    private static RecycleConfig BindRecycle(ObjectReader reader)
    {
        var defaults = new RecycleConfig();
        var recycle = new RecycleConfig
        {
            Window = reader.Read("window", defaults.Window, ValueParsers.Duration),
        };
        reader.Finish();
        return recycle;
    }

    private static AccessLogConfig BindAccessLog(ObjectReader reader)
    {
        var defaults = new AccessLogConfig();
        var accessLog = new AccessLogConfig
        {
            Path = reader.Read("path", defaults.Path, ValueParsers.String),
            Format = reader.Read("format", defaults.Format, ValueParsers.AccessLogFormat),
            QueueSize = reader.Read("queueSize", defaults.QueueSize, ValueParsers.Int),
        };
        reader.Finish();
        return accessLog;
    }

    private static TelemetryConfig BindTelemetry(ObjectReader reader)
    {
        var tracing = reader.Object("tracing");
        var tracingConfig = new TracingConfig { SampleRatio = tracing.Read("sampleRatio", new TracingConfig().SampleRatio, ValueParsers.Double) };
        tracing.Finish();
        var otlp = reader.Object("otlp");
        var defaults = new OtlpConfig();
        var headers = otlp.Object("headers");
        var headerValues = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, node) in headers.Entries())
        {
            if (ValueParsers.String(node, reader.Context.VariableOf(node) is not null, out var value, out var error))
            {
                headerValues[name] = value;
            }
            else
            {
                reader.Context.Error(ConfigText.Child(headers.Path, name), node, error);
            }
        }

        var otlpConfig = new OtlpConfig
        {
            Endpoint = otlp.Read("endpoint", defaults.Endpoint, ValueParsers.OptionalString),
            Headers = headerValues,
            ExportInterval = otlp.Read("exportInterval", defaults.ExportInterval, ValueParsers.Duration),
        };
        otlp.Finish();
        reader.Finish();
        return new TelemetryConfig { Tracing = tracingConfig, Otlp = otlpConfig };
    }

    // A duration whose absence (or null, as the effective config prints it) means "derive it" while "0s" means
    // none; unlike OptionalDuration there is no "off" spelling, which would read as the opposite of the default.
    private static bool PresentDuration(JsonNode? node, bool fromEnvironment, out TimeSpan? value, out string error)
    {
        if (node is null)
        {
            value = null;
            error = "";
            return true;
        }

        var ok = ValueParsers.Duration(node, fromEnvironment, out var duration, out error);
        value = duration;
        return ok;
    }
}
