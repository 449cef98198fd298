using Tether.Configuration.Binding;

namespace Tether.Configuration;

/// <summary>Checks of the operations keys: drain, recycle, lifetime jitter.</summary>
public static partial class ConfigValidator
{
    private static void ValidateOperations(TetherConfig config, List<ConfigError> errors)
    {
        NotNegative(errors, "drain.delay", config.Drain.Delay, "5s");
        Positive(errors, "drain.timeout", config.Drain.Timeout, "30s");
        NotNegative(errors, "recycle.window", config.Recycle.Window, "30s");
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

    private static void NotNegative(List<ConfigError> errors, string path, TimeSpan value, string example)
    {
        if (value < TimeSpan.Zero)
        {
            errors.Add(new ConfigError(path, ConfigText.Quote(Durations.Format(value)),
                $"must not be negative; use a duration such as \"{example}\" or \"0s\""));
        }
    }
}
