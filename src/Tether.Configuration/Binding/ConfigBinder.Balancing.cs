namespace Tether.Configuration.Binding;

/// <summary>The load-balancing sections of a cluster: healthCheck, retries, consistentHash.</summary>
internal static partial class ConfigBinder
{
    private static HealthCheckConfig BindHealthCheck(ObjectReader reader)
    {
        var defaults = new HealthCheckConfig();
        var healthCheck = new HealthCheckConfig
        {
            Active = BindActiveHealthCheck(reader.Object("active")),
            Passive = BindPassiveHealthCheck(reader.Object("passive")),
            SlowStart = reader.Read("slowStart", defaults.SlowStart, ValueParsers.Duration),
        };
        reader.Finish();
        return healthCheck;
    }

    // Writing "active" turns probes on; missing keys take their defaults.
    private static ActiveHealthCheckConfig? BindActiveHealthCheck(ObjectReader reader)
    {
        var defaults = new ActiveHealthCheckConfig();
        var active = new ActiveHealthCheckConfig
        {
            Path = reader.Read("path", defaults.Path, ValueParsers.String),
            Interval = reader.Read("interval", defaults.Interval, ValueParsers.Duration),
            Timeout = reader.Read("timeout", defaults.Timeout, ValueParsers.Duration),
            HealthyThreshold = reader.Read("healthyThreshold", defaults.HealthyThreshold, ValueParsers.Int),
            UnhealthyThreshold = reader.Read("unhealthyThreshold", defaults.UnhealthyThreshold, ValueParsers.Int),
            ExpectedStatus = reader.Read("expectedStatus", defaults.ExpectedStatus, ValueParsers.StatusText),
        };
        reader.Finish();
        return reader.IsPresent ? active : null;
    }

    private static PassiveHealthCheckConfig BindPassiveHealthCheck(ObjectReader reader)
    {
        var defaults = new PassiveHealthCheckConfig();
        var passive = new PassiveHealthCheckConfig
        {
            ConsecutiveFailures = reader.Read("consecutiveFailures", defaults.ConsecutiveFailures, ValueParsers.Int),
            BaseEjectionTime = reader.Read("baseEjectionTime", defaults.BaseEjectionTime, ValueParsers.Duration),
            MaxEjectionTime = reader.Read("maxEjectionTime", defaults.MaxEjectionTime, ValueParsers.Duration),
        };
        reader.Finish();
        return passive;
    }

    private static RetryConfig BindRetries(ObjectReader reader)
    {
        var defaults = new RetryConfig();
        var retries = new RetryConfig
        {
            MaxAttempts = reader.Read("maxAttempts", defaults.MaxAttempts, ValueParsers.Int),
            Timeout = reader.Read("timeout", defaults.Timeout, ValueParsers.OptionalDuration),
            BudgetPercent = reader.Read("budgetPercent", defaults.BudgetPercent, ValueParsers.Int),
            BudgetMinPerSecond = reader.Read("budgetMinPerSecond", defaults.BudgetMinPerSecond, ValueParsers.Int),
        };
        reader.Finish();
        return retries;
    }

    private static ConsistentHashConfig BindConsistentHash(ObjectReader reader)
    {
        var hash = new ConsistentHashConfig { Key = reader.Read("key", new ConsistentHashConfig().Key, ValueParsers.String) };
        reader.Finish();
        return hash;
    }
}
