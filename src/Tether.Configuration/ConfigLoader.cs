using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Nodes;
using Tether.Configuration.Binding;

namespace Tether.Configuration;

/// <summary>The outcome of loading a config: the config, or every error found (never just the first).</summary>
public sealed record ConfigLoadResult(TetherConfig? Config, IReadOnlyList<ConfigError> Errors)
{
    public bool Succeeded => Config is not null && Errors.Count == 0;
}

/// <summary>
/// Reads JSON config, applies TETHER__ environment overrides, fills defaults, validates.
/// The steps: JSON text → case-insensitive tree (syntax and duplicate-key errors) → environment
/// overrides → binding to records (unknown keys, wrong types, bad durations and destinations) →
/// <see cref="ConfigValidator"/> (ranges and references). Every step reports all it finds; validation
/// leaves out places binding already reported, so one mistake gives one error.
/// </summary>
public static class ConfigLoader
{
    /// <summary>Load a file. A missing or unreadable file is an error in the result, not an exception.
    /// Relative TLS paths (listeners' tls.*, clusters' tls.caFile, .certificate, .key) and a relative accessLog.path are resolved against the file's folder.</summary>
    public static ConfigLoadResult LoadFile(string path, IReadOnlyDictionary<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Failed(path, "the config file does not exist; check the path given to --config");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Failed(path, $"cannot read the config file ({e.Message}); check its permissions");
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? Directory.GetCurrentDirectory();
        return Load(json, environment, folder);
    }

    /// <summary>Parse JSON text (comments and trailing commas allowed). Relative TLS paths stay relative
    /// to the current directory.</summary>
    public static ConfigLoadResult Parse(string json, IReadOnlyDictionary<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        return Load(json, environment, baseFolder: null);
    }

    private static ConfigLoadResult Load(string json, IReadOnlyDictionary<string, string?>? environment, string? baseFolder)
    {
        var context = new BindContext();
        var tree = JsonTree.Parse(json, context);
        if (tree is null)
        {
            return new ConfigLoadResult(null, context.Errors);
        }

        if (tree is not JsonObject root)
        {
            context.Error("(root)", tree, "the config is a JSON object { … }; start with { \"listeners\": [ … ] }");
            return new ConfigLoadResult(null, context.Errors);
        }

        EnvironmentOverrides.Apply(root, environment, context);
        var config = ConfigBinder.Bind(root, context);
        if (baseFolder is not null)
        {
            config = ResolveTlsPaths(config, baseFolder);
        }

        var errors = new List<ConfigError>(context.Errors);
        foreach (var error in ConfigValidator.Validate(config))
        {
            if (!context.IsBelowFailed(error.Path))
            {
                errors.Add(error);
            }
        }

        return new ConfigLoadResult(errors.Count == 0 ? config : null, errors);
    }

    // The gateway opens these files from its own working directory; make them independent of it.
    private static TetherConfig ResolveTlsPaths(TetherConfig config, string baseFolder)
    {
        var listeners = new List<ListenerConfig>(config.Listeners.Count);
        foreach (var listener in config.Listeners)
        {
            listeners.Add(listener.Tls is { } tls
                ? listener with { Tls = tls with { Certificate = Resolve(tls.Certificate, baseFolder), Key = Resolve(tls.Key, baseFolder) } }
                : listener);
        }

        var clusters = new Dictionary<string, ClusterConfig>(config.Clusters.Count, StringComparer.Ordinal);
        foreach (var (name, cluster) in config.Clusters)
        {
            var tls = cluster.Tls;
            clusters[name] = cluster with
            {
                Tls = tls with { CaFile = Resolve(tls.CaFile, baseFolder), Certificate = Resolve(tls.Certificate, baseFolder), Key = Resolve(tls.Key, baseFolder) },
            };
        }

        var accessLog = config.AccessLog;
        if (!accessLog.IsOff && !accessLog.IsStdout)
        {
            accessLog = accessLog with { Path = Resolve(accessLog.Path, baseFolder) };
        }

        return config with { Listeners = listeners, Clusters = clusters, AccessLog = accessLog };
    }

    [return: NotNullIfNotNull(nameof(file))]
    private static string? Resolve(string? file, string baseFolder) =>
        string.IsNullOrWhiteSpace(file) || Path.IsPathRooted(file) ? file : Path.GetFullPath(Path.Combine(baseFolder, file));

    private static ConfigLoadResult Failed(string path, string message) =>
        new(null, [new ConfigError(path, null, message)]);
}
