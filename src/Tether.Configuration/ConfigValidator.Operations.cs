using Tether.Configuration.Binding;

namespace Tether.Configuration;

/// <summary>Checks of the operations keys: drain, recycle, lifetime jitter, accessLog.</summary>
public static partial class ConfigValidator
{
    private static void ValidateOperations(TetherConfig config, List<ConfigError> errors)
    {
        NotNegative(errors, "drain.delay", config.Drain.Delay, "5s");
        Positive(errors, "drain.timeout", config.Drain.Timeout, "30s");
        NotNegative(errors, "recycle.window", config.Recycle.Window, "30s");
        ValidateAccessLog(config.AccessLog, errors);
        ValidateTelemetry(config.Telemetry, errors);
        ValidateDns(config.Dns, errors);
        ValidateEtcd(config.Etcd, errors);
        var downstream = config.Downstream;
        if (downstream.MaxConnectionLifetimeJitter is { } jitter)
        {
            NotNegative(errors, "downstream.maxConnectionLifetimeJitter", jitter, "5m");
            if (downstream.MaxConnectionLifetime is { } lifetime && jitter >= lifetime)
            {
                errors.Add(new ConfigError("downstream.maxConnectionLifetimeJitter", ConfigText.Quote(Durations.Format(jitter)),
                    $"must be less than downstream.maxConnectionLifetime ({Durations.Format(lifetime)}); use a fraction of it such as a tenth"));
            }
        }
    }

    private static void ValidateDns(DnsConfig dns, List<ConfigError> errors)
    {
        for (var i = 0; i < dns.Servers.Count; i++)
        {
            if (!AddressParser.TryParseDnsServer(dns.Servers[i], out _))
            {
                errors.Add(new ConfigError(ConfigText.Index("dns.servers", i), ConfigText.Quote(dns.Servers[i]),
                    "a DNS server is an IP address, with a port if not 53: \"10.0.0.2\", \"127.0.0.1:5353\" or \"[::1]:5353\""));
            }
        }

        Positive(errors, "dns.timeout", dns.Timeout, "2s");
    }

    private static void ValidateEtcd(EtcdConfig etcd, List<ConfigError> errors)
    {
        for (var i = 0; i < etcd.Endpoints.Count; i++)
        {
            if (!AddressParser.TryParseHostPort(etcd.Endpoints[i], out var host, out var port) || port == 0 || host == "*")
            {
                errors.Add(new ConfigError(ConfigText.Index("etcd.endpoints", i), ConfigText.Quote(etcd.Endpoints[i]),
                    "an etcd endpoint is host:port, such as \"127.0.0.1:2379\""));
            }
        }

        if (etcd.Username is { } user && string.IsNullOrWhiteSpace(user))
        {
            errors.Add(new ConfigError("etcd.username", ConfigText.Quote(user), "give the etcd user (etcdctl user add NAME), or remove \"username\" for an etcd without auth"));
        }
        else if (etcd.Username is not null && etcd.Password is null)
        {
            errors.Add(new ConfigError("etcd.password", null, "etcd auth needs the user's password: add \"password\", or set TETHER__ETCD__PASSWORD to keep it out of the file"));
        }
        else if (etcd.Password is not null && etcd.Username is null)
        {
            errors.Add(new ConfigError("etcd.username", null, "a password is sent with its user: add \"username\", or remove \"password\""));
        }

        if (etcd.Tls is { } tls)
        {
            ValidateTlsFiles(tls.CaFile, tls.Certificate, tls.Key, "etcd.tls", "a PEM bundle of the CAs that sign etcd's certificates (etcd --trusted-ca-file signs clients; this one must sign etcd's --cert-file)",
                "the PEM client certificate (chain) Tether presents to etcd (--client-cert-auth)", errors);
        }
    }

    private static void ValidateAccessLog(AccessLogConfig accessLog, List<ConfigError> errors)
    {
        if (accessLog.QueueSize < 1)
        {
            errors.Add(new ConfigError("accessLog.queueSize", Number(accessLog.QueueSize), "must be at least 1; use a number of lines such as 16384"));
        }

        if (!Enum.IsDefined(accessLog.Format))
        {
            errors.Add(new ConfigError("accessLog.format", accessLog.Format.ToString(), "use \"combined\" or \"json\""));
        }

        if (accessLog.IsOff || accessLog.IsStdout)
        {
            return;
        }

        if (string.IsNullOrWhiteSpace(accessLog.Path))
        {
            errors.Add(new ConfigError("accessLog.path", ConfigText.Quote(accessLog.Path), "use \"stdout\", \"off\" or the path of a file such as \"/var/log/tether/access.log\""));
            return;
        }

        var fullPath = Path.GetFullPath(accessLog.Path);
        if (Directory.Exists(fullPath))
        {
            errors.Add(new ConfigError("accessLog.path", ConfigText.Quote(accessLog.Path), $"{fullPath} is a folder; give the path of a file in it, such as \"{Path.Combine(fullPath, "access.log")}\""));
        }
        else if (Path.GetDirectoryName(fullPath) is { } folder && !Directory.Exists(folder))
        {
            errors.Add(new ConfigError("accessLog.path", ConfigText.Quote(accessLog.Path), $"the folder {folder} does not exist; create it or log to \"stdout\""));
        }
    }

    private static void ValidateTelemetry(TelemetryConfig telemetry, List<ConfigError> errors)
    {
        var ratio = telemetry.Tracing.SampleRatio;
        if (!(ratio >= 0 && ratio <= 1))
        {
            errors.Add(new ConfigError("telemetry.tracing.sampleRatio", ratio.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "must be between 0 (tracing off) and 1 (every request); use a share such as 0.01"));
        }

        var otlp = telemetry.Otlp;
        if (otlp.Endpoint is { } endpoint)
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
                || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
            {
                errors.Add(new ConfigError("telemetry.otlp.endpoint", ConfigText.Quote(endpoint),
                    "use the http:// or https:// base URL of an OTLP/HTTP collector, such as \"http://127.0.0.1:4318\" (Tether adds /v1/traces and /v1/metrics)"));
            }
        }
        else if (ratio > 0)
        {
            errors.Add(new ConfigError("telemetry.tracing.sampleRatio", ratio.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "traces would be exported nowhere: set telemetry.otlp.endpoint such as \"http://127.0.0.1:4318\", or sampleRatio 0"));
        }

        Positive(errors, "telemetry.otlp.exportInterval", otlp.ExportInterval, "60s");
        foreach (var (name, value) in otlp.Headers)
        {
            if (name.Length == 0 || name.AsSpan().ContainsAny(",=\r\n: ") || value.AsSpan().ContainsAny(",\r\n"))
            {
                errors.Add(new ConfigError("telemetry.otlp.headers." + name, ConfigText.Quote(value),
                    "a header name without ',', '=', ':' or spaces and a value without ',' or line breaks, such as \"api-key\": \"abc123\""));
            }
        }
    }

    private static void NotNegative(List<ConfigError> errors, string path, TimeSpan value, string example)
    {
        if (value < TimeSpan.Zero)
        {
            errors.Add(new ConfigError(path, ConfigText.Quote(Durations.Format(value)),
                $"must not be negative; use a duration such as \"{example}\" or \"0s\""));
        }
    }
}
