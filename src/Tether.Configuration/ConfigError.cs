namespace Tether.Configuration;

/// <summary>One problem in a config: where (a dotted key path like "clusters.api.pool.idleTimeout"),
/// what was there, and what to do about it. A YAML file also gives the place of the key ("line 3, column 5").</summary>
public sealed record ConfigError(string Path, string? Value, string Message)
{
    /// <summary>In a YAML file, where the key (or its nearest written parent) is: "line 3, column 5"; null for JSON.</summary>
    public string? Location { get; init; }

    public override string ToString()
    {
        var text = Value is null ? $"{Path}: {Message}" : $"{Path} = {Value}: {Message}";
        return Location is null ? text : $"{text} ({Location})";
    }
}

/// <summary>Thrown where a caller wants an exception; carries every error, never just the first.</summary>
public sealed class ConfigException(IReadOnlyList<ConfigError> errors)
    : Exception("Invalid configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  " + e)))
{
    public IReadOnlyList<ConfigError> Errors { get; } = errors;
}
