namespace Tether.Configuration;

/// <summary>The outcome of loading a config: the config, or every error found (never just the first).</summary>
public sealed record ConfigLoadResult(TetherConfig? Config, IReadOnlyList<ConfigError> Errors)
{
    public bool Succeeded => Config is not null && Errors.Count == 0;
}

/// <summary>Reads JSON config, applies TETHER__ environment overrides, fills defaults, validates.</summary>
public static class ConfigLoader
{
    /// <summary>Load a file. A missing or unreadable file is an error in the result, not an exception.</summary>
    public static ConfigLoadResult LoadFile(string path, IReadOnlyDictionary<string, string?>? environment = null) =>
        throw new NotImplementedException();

    /// <summary>Parse JSON text (comments and trailing commas allowed).</summary>
    public static ConfigLoadResult Parse(string json, IReadOnlyDictionary<string, string?>? environment = null) =>
        throw new NotImplementedException();
}

/// <summary>Semantic checks on a config built in code or parsed; collects all errors.</summary>
public static class ConfigValidator
{
    public static IReadOnlyList<ConfigError> Validate(TetherConfig config) => [];
}

/// <summary>"500ms", "65s", "5m", "1h", "1h30m" ⇄ TimeSpan.</summary>
public static class Durations
{
    public static bool TryParse(string? text, out TimeSpan value) => throw new NotImplementedException();

    public static string Format(TimeSpan value) => throw new NotImplementedException();
}
