namespace Tether.Configuration;

/// <summary>One problem in a config: where (a dotted key path like "clusters.api.pool.idleTimeout"),
/// what was there, and what to do about it.</summary>
public sealed record ConfigError(string Path, string? Value, string Message)
{
    public override string ToString() =>
        Value is null ? $"{Path}: {Message}" : $"{Path} = {Value}: {Message}";
}

/// <summary>Thrown where a caller wants an exception; carries every error, never just the first.</summary>
public sealed class ConfigException(IReadOnlyList<ConfigError> errors)
    : Exception("Invalid configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  " + e)))
{
    public IReadOnlyList<ConfigError> Errors { get; } = errors;
}
