namespace Tether.Configuration;

/// <summary>How a cluster judges its destinations: active probes, passive ejection, slow start.</summary>
public sealed record HealthCheckConfig
{
    /// <summary>Null = no active probes (the default): destinations are judged by live traffic only.</summary>
    public ActiveHealthCheckConfig? Active { get; init; }

    public PassiveHealthCheckConfig Passive { get; init; } = new();

    /// <summary>HAProxy slowstart, nginx slow_start: a destination that comes back ramps its weight from 10% to
    /// 100% over this time. Zero = off.</summary>
    public TimeSpan SlowStart { get; init; } = TimeSpan.Zero;
}

/// <summary>Probes on their own connections (HAProxy check, nginx health_check).</summary>
public sealed record ActiveHealthCheckConfig
{
    public string Path { get; init; } = "/";

    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>HAProxy rise: consecutive passing probes that bring an unhealthy destination back.</summary>
    public int HealthyThreshold { get; init; } = 2;

    /// <summary>HAProxy fall: consecutive failing probes that take a destination out.</summary>
    public int UnhealthyThreshold { get; init; } = 3;

    /// <summary>"200-399" or "200": the statuses that pass. See <see cref="StatusRange"/>.</summary>
    public string ExpectedStatus { get; init; } = "200-399";
}

/// <summary>Ejection on live-traffic failures (nginx max_fails/fail_timeout, Envoy outlier detection).</summary>
public sealed record PassiveHealthCheckConfig
{
    /// <summary>Consecutive failures (connect errors, resets, timeouts, 5xx) that eject a destination. 0 = off.</summary>
    public int ConsecutiveFailures { get; init; } = 5;

    /// <summary>The first ejection lasts this long; each repeat ejection adds as much again, up to the max.</summary>
    public TimeSpan BaseEjectionTime { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan MaxEjectionTime { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>Moving a failed request to another destination (nginx proxy_next_upstream, HAProxy retries/redispatch).</summary>
public sealed record RetryConfig
{
    /// <summary>Attempts in all, the first included; 1 = no retries on other destinations.</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>No new attempt starts this long after the first one did. Null = no limit.</summary>
    public TimeSpan? Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Retries may add at most this percentage to the requests of the last 10 seconds.</summary>
    public int BudgetPercent { get; init; } = 20;

    /// <summary>Retries always allowed per second whatever the traffic, so a quiet cluster can still retry.</summary>
    public int BudgetMinPerSecond { get; init; } = 10;
}

/// <summary>What consistentHash hashes: "clientIp", "header:X-User" or "cookie:session". See <see cref="HashKey"/>.</summary>
public sealed record ConsistentHashConfig
{
    public string Key { get; init; } = HashKey.ClientIpText;
}
