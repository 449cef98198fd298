using Tether.Configuration.Binding;

namespace Tether.Configuration;

/// <summary>Checks of the load-balancing keys of a cluster: health checks, retries, DNS, consistent hashing.</summary>
public static partial class ConfigValidator
{
    private const int MaxAttemptsLimit = 10;
    private const int MaxThreshold = 100;

    private static void ValidateBalancing(ClusterConfig cluster, string path, List<ConfigError> errors)
    {
        var health = cluster.HealthCheck;
        var healthPath = path + ".healthCheck";
        if (health.Active is { } active)
        {
            ValidateActive(active, healthPath + ".active", errors);
        }

        var passive = health.Passive;
        var passivePath = healthPath + ".passive";
        NotNegative(errors, passivePath + ".consecutiveFailures", passive.ConsecutiveFailures, "5, or 0 to turn passive ejection off");
        Positive(errors, passivePath + ".baseEjectionTime", passive.BaseEjectionTime, "30s");
        Positive(errors, passivePath + ".maxEjectionTime", passive.MaxEjectionTime, "5m");
        if (passive.BaseEjectionTime > TimeSpan.Zero && passive.MaxEjectionTime > TimeSpan.Zero && passive.MaxEjectionTime < passive.BaseEjectionTime)
        {
            errors.Add(new ConfigError(passivePath + ".maxEjectionTime", ConfigText.Quote(Durations.Format(passive.MaxEjectionTime)),
                $"cannot be shorter than baseEjectionTime ({Durations.Format(passive.BaseEjectionTime)}); raise maxEjectionTime or lower baseEjectionTime"));
        }

        if (health.SlowStart < TimeSpan.Zero)
        {
            errors.Add(new ConfigError(healthPath + ".slowStart", ConfigText.Quote(Durations.Format(health.SlowStart)),
                "use a duration such as \"30s\", or \"0s\" to turn slow start off"));
        }

        var retries = cluster.Retries;
        var retriesPath = path + ".retries";
        if (retries.MaxAttempts is < 1 or > MaxAttemptsLimit)
        {
            errors.Add(new ConfigError(retriesPath + ".maxAttempts", Number(retries.MaxAttempts),
                $"use a number of attempts from 1 (no retries) to {MaxAttemptsLimit}, such as 3"));
        }

        OptionalPositive(errors, retriesPath + ".timeout", retries.Timeout, "10s");
        if (retries.BudgetPercent is < 0 or > 100)
        {
            errors.Add(new ConfigError(retriesPath + ".budgetPercent", Number(retries.BudgetPercent),
                "use a percentage of live requests from 0 to 100, such as 20"));
        }

        NotNegative(errors, retriesPath + ".budgetMinPerSecond", retries.BudgetMinPerSecond, "10, or 0 for none beyond budgetPercent");
        OptionalPositive(errors, path + ".resolveInterval", cluster.ResolveInterval, "30s");

        if (!HashKey.TryParse(cluster.ConsistentHash.Key, out _))
        {
            errors.Add(new ConfigError(path + ".consistentHash.key", ConfigText.Quote(cluster.ConsistentHash.Key),
                "use \"clientIp\", \"header:NAME\" (such as \"header:X-User-Id\") or \"cookie:NAME\" (such as \"cookie:session\")"));
        }
    }

    private static void ValidateActive(ActiveHealthCheckConfig active, string path, List<ConfigError> errors)
    {
        if (!active.Path.StartsWith('/') || active.Path.Contains(' ', StringComparison.Ordinal))
        {
            errors.Add(new ConfigError(path + ".path", ConfigText.Quote(active.Path),
                "a probe path starts with \"/\" and has no spaces, such as \"/healthz\""));
        }

        Positive(errors, path + ".interval", active.Interval, "5s");
        Positive(errors, path + ".timeout", active.Timeout, "2s");
        if (active.Interval > TimeSpan.Zero && active.Timeout > active.Interval)
        {
            errors.Add(new ConfigError(path + ".timeout", ConfigText.Quote(Durations.Format(active.Timeout)),
                $"a probe must end before the next one starts; make timeout at most interval ({Durations.Format(active.Interval)})"));
        }

        Threshold(errors, path + ".healthyThreshold", active.HealthyThreshold, 2);
        Threshold(errors, path + ".unhealthyThreshold", active.UnhealthyThreshold, 3);
        if (!StatusRange.TryParse(active.ExpectedStatus, out _))
        {
            errors.Add(new ConfigError(path + ".expectedStatus", ConfigText.Quote(active.ExpectedStatus),
                "use a status or a range of statuses from 100 to 599, such as \"200-399\" or \"200\""));
        }
    }

    private static void Threshold(List<ConfigError> errors, string path, int value, int example)
    {
        if (value is < 1 or > MaxThreshold)
        {
            errors.Add(new ConfigError(path, Number(value), $"use a number of consecutive probes from 1 to {MaxThreshold}, such as {example}"));
        }
    }
}
