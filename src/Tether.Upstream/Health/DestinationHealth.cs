using Tether.Configuration;

namespace Tether.Upstream.Health;

public enum HealthState
{
    Healthy,

    /// <summary>Back from ejection or from failing probes, or newly resolved: taking a growing share of traffic.</summary>
    SlowStart,

    /// <summary>Passive health took it out for a while.</summary>
    Ejected,

    /// <summary>Active probes failed unhealthyThreshold times in a row.</summary>
    Unhealthy,
}

/// <summary>
/// Health of one destination: active probe verdicts, passive ejection and slow start. The request path only
/// reads <see cref="IsAvailable"/> and <see cref="EffectiveWeight"/> and reports outcomes with atomics; state
/// changes (rare) take a lock. Times are <see cref="TimeProvider"/> timestamps.
/// </summary>
public sealed class DestinationHealth
{
    // The share of its weight a destination gets at the start of slow start (HAProxy starts near 0 but never
    // at 0; a destination at 0 would get no request to prove itself with).
    private const double SlowStartFloor = 0.1;

    private readonly PassiveHealthCheckConfig _passive;
    private readonly ActiveHealthCheckConfig? _active;
    private readonly TimeProvider _timeProvider;
    private readonly long _slowStartTicks;
    private readonly int _weight;
    private readonly object _lock = new();

    private int _consecutiveFailures;

    // Timestamp until which the destination is ejected; long.MinValue when never ejected. Written under _lock.
    private long _ejectedUntil = long.MinValue;

    // Ejections that count towards the next one's length; back to 0 after a long quiet spell. Guarded by _lock.
    private int _ejectionStreak;
    private long _ejections;

    // When the destination last became available after being out (slow start runs from here). Guarded by _lock.
    private long _availableSince = long.MinValue;

    // Active probe verdict and the run of identical results behind it. Written by the one checker loop.
    private volatile bool _probeHealthy = true;
    private int _probeRun;

    public DestinationHealth(int weight, HealthCheckConfig config, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(config);
        _weight = weight;
        _passive = config.Passive;
        _active = config.Active;
        _timeProvider = timeProvider;
        _slowStartTicks = ToTicks(config.SlowStart);
    }

    public long Ejections => Interlocked.Read(ref _ejections);

    /// <summary>Now, on the clock health is judged by (for readers such as /metrics).</summary>
    public long Timestamp => _timeProvider.GetTimestamp();

    public int ConsecutiveFailures => Volatile.Read(ref _consecutiveFailures);

    public bool ProbeHealthy => _probeHealthy;

    public bool IsAvailable(long now) => _probeHealthy && now >= Volatile.Read(ref _ejectedUntil);

    public HealthState State(long now)
    {
        if (!_probeHealthy)
        {
            return HealthState.Unhealthy;
        }

        if (now < Volatile.Read(ref _ejectedUntil))
        {
            return HealthState.Ejected;
        }

        return InSlowStart(now) ? HealthState.SlowStart : HealthState.Healthy;
    }

    /// <summary>The weight to balance by now: the configured weight, ramped up linearly during slow start.</summary>
    public double EffectiveWeight(long now)
    {
        if (!InSlowStart(now))
        {
            return _weight;
        }

        var elapsed = now - Volatile.Read(ref _availableSince);
        return _weight * Math.Max(SlowStartFloor, (double)elapsed / _slowStartTicks);
    }

    /// <summary>Starts slow start now (a destination that DNS just added).</summary>
    public void BeginSlowStart()
    {
        lock (_lock)
        {
            _availableSince = _timeProvider.GetTimestamp();
        }
    }

    /// <summary>A response head arrived with a status below 500: the failure run is over.</summary>
    public void ReportSuccess()
    {
        // Read first: a healthy destination's counter is already 0, and not writing keeps the cache line shared.
        if (Volatile.Read(ref _consecutiveFailures) != 0)
        {
            Volatile.Write(ref _consecutiveFailures, 0);
        }
    }

    /// <summary>
    /// A connect failure, reset, timeout, bad response or 5xx. Returns the ejection time if this failure
    /// ejected the destination, else null.
    /// </summary>
    public TimeSpan? ReportFailure()
    {
        var threshold = _passive.ConsecutiveFailures;
        if (threshold <= 0 || Interlocked.Increment(ref _consecutiveFailures) < threshold)
        {
            return null;
        }

        lock (_lock)
        {
            var now = _timeProvider.GetTimestamp();
            var ejectedUntil = _ejectedUntil;
            if (now < ejectedUntil || Volatile.Read(ref _consecutiveFailures) < threshold)
            {
                return null; // already ejected (requests in flight as it happened), or another thread ejected it
            }

            // Envoy-style growth: base × (repeat ejections), capped; a destination that stayed in for a whole
            // maxEjectionTime since its last return starts again from base.
            var maxTicks = ToTicks(_passive.MaxEjectionTime);
            if (ejectedUntil == long.MinValue || now - ejectedUntil >= maxTicks)
            {
                _ejectionStreak = 0;
            }

            _ejectionStreak++;
            var duration = TimeSpan.FromTicks(Math.Min(_passive.BaseEjectionTime.Ticks * _ejectionStreak, _passive.MaxEjectionTime.Ticks));
            var until = now + ToTicks(duration);
            Volatile.Write(ref _ejectedUntil, until);
            _availableSince = until;
            Interlocked.Increment(ref _ejections);
            Volatile.Write(ref _consecutiveFailures, 0);
            return duration;
        }
    }

    /// <summary>
    /// One active probe's verdict. Returns true when it changed <see cref="ProbeHealthy"/> (after
    /// unhealthyThreshold failures, or healthyThreshold passes). Called by one checker loop at a time.
    /// </summary>
    public bool ReportProbe(bool passed)
    {
        if (_active is null)
        {
            return false;
        }

        if (passed == _probeHealthy)
        {
            _probeRun = 0;
            return false;
        }

        _probeRun++;
        var threshold = passed ? _active.HealthyThreshold : _active.UnhealthyThreshold;
        if (_probeRun < threshold)
        {
            return false;
        }

        _probeRun = 0;
        lock (_lock)
        {
            if (passed)
            {
                // Probes prove it is back: end a passive ejection too (Envoy's default), and ramp up from now.
                var now = _timeProvider.GetTimestamp();
                _availableSince = now;
                if (_ejectedUntil > now)
                {
                    Volatile.Write(ref _ejectedUntil, now);
                }
            }

            _probeHealthy = passed;
        }

        return true;
    }

    private bool InSlowStart(long now)
    {
        if (_slowStartTicks <= 0)
        {
            return false;
        }

        var since = Volatile.Read(ref _availableSince);
        return since != long.MinValue && now - since < _slowStartTicks;
    }

    private long ToTicks(TimeSpan duration) => (long)(duration.TotalSeconds * _timeProvider.TimestampFrequency);
}
