using System.Diagnostics.Metrics;

namespace Tether.Gateway.Observability;

/// <summary>
/// The <c>Tether</c> meter (System.Diagnostics.Metrics), one per gateway: what an OpenTelemetry SDK,
/// dotnet-counters or any <see cref="MeterListener"/> subscribes to. Every tether_* family of /metrics but the
/// histograms is an observable instrument here, read from the latest <see cref="TelemetrySnapshot"/> (taken again
/// when the last is older than a second, so one collection reads one snapshot). Its name is the Prometheus name
/// with '_' as '.', without "_total" and the unit suffix ("tether_upstream_pool_idle" is
/// "tether.upstream.pool.idle"); labels are tags. The request and exchange durations are histograms recorded
/// per request (<see cref="RequestTelemetry"/>). Process and runtime figures are the runtime's own meter's
/// ("System.Runtime").
/// </summary>
internal sealed class TetherMeter : IDisposable
{
    public const string Name = "Tether";

    private static readonly TimeSpan s_maxAge = TimeSpan.FromSeconds(1);

    private readonly Func<TelemetrySnapshot> _take;
    private readonly Lock _lock = new();
    private Dictionary<string, MetricFamily>? _families;
    private long _takenAt;

    public TetherMeter(Func<TelemetrySnapshot> take)
    {
        _take = take;
        Meter = new Meter(Name, TelemetrySnapshot.Build.Version);
    }

    public Meter Meter { get; }

    /// <summary>The instrument name of a Prometheus family name, and its unit.</summary>
    public static (string Name, string? Unit) InstrumentName(string prometheusName, MetricType type)
    {
        var name = prometheusName;
        if (type == MetricType.Counter && name.EndsWith("_total", StringComparison.Ordinal))
        {
            name = name[..^"_total".Length];
        }

        string? unit = null;
        foreach (var (suffix, symbol) in new[] { ("_seconds", "s"), ("_bytes", "By") })
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal))
            {
                name = name[..^suffix.Length];
                unit = symbol;
            }
        }

        return (name.Replace('_', '.'), unit);
    }

    /// <summary>Creates the observable instruments, one per family of <paramref name="families"/> (a first
    /// snapshot's: every family is there whatever the traffic).</summary>
    public void Observe(IEnumerable<MetricFamily> families)
    {
        foreach (var family in families)
        {
            if (family.Type == MetricType.Histogram || !family.Name.StartsWith("tether_", StringComparison.Ordinal) || family.Name == "tether_build_info")
            {
                continue;
            }

            var (name, unit) = InstrumentName(family.Name, family.Type);
            var familyName = family.Name;
            if (family.Type == MetricType.Counter)
            {
                Meter.CreateObservableCounter(name, () => Measure(familyName), unit, family.Help);
            }
            else
            {
                Meter.CreateObservableGauge(name, () => Measure(familyName), unit, family.Help);
            }
        }
    }

    public void Dispose() => Meter.Dispose();

    private IEnumerable<Measurement<double>> Measure(string familyName)
    {
        MetricFamily? family;
        lock (_lock)
        {
            if (_families is null || TimeProvider.System.GetElapsedTime(_takenAt) > s_maxAge)
            {
                _families = MetricFamilies.From(_take()).ToDictionary(f => f.Name, StringComparer.Ordinal);
                _takenAt = TimeProvider.System.GetTimestamp();
            }

            _families.TryGetValue(familyName, out family);
        }

        if (family is null)
        {
            yield break;
        }

        foreach (var sample in family.Samples)
        {
            var tags = new KeyValuePair<string, object?>[sample.Labels.Length];
            for (var i = 0; i < tags.Length; i++)
            {
                tags[i] = new KeyValuePair<string, object?>(family.Labels[i], sample.Labels[i]);
            }

            yield return new Measurement<double>(sample.Value, tags);
        }
    }
}
