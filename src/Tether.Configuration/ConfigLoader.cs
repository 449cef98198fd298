using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Nodes;
using Tether.Configuration.Binding;

namespace Tether.Configuration;

/// <summary>The outcome of loading a config: the config, or every error found (never just the first).</summary>
public sealed record ConfigLoadResult(TetherConfig? Config, IReadOnlyList<ConfigError> Errors)
{
    public bool Succeeded => Config is not null && Errors.Count == 0;
}

/// <summary>The syntax a config file is written in; both give the same keys and the same errors.</summary>
public enum ConfigFormat
{
    Json,
    Yaml,
}

/// <summary>
/// Reads JSON or YAML config, applies TETHER__ environment overrides, fills defaults, validates.
/// The steps: JSON or YAML text → case-insensitive tree (syntax and duplicate-key errors) → environment
/// overrides → binding to records (unknown keys, wrong types, bad durations and destinations) →
/// <see cref="ConfigValidator"/> (ranges and references). Every step reports all it finds; validation
/// leaves out places binding already reported, so one mistake gives one error.
/// </summary>
public static class ConfigLoader
{
    /// <summary>Load a file. A missing or unreadable file is an error in the result, not an exception.
    /// The format is the extension's (.yaml and .yml are YAML, .json is JSON); any other extension is sniffed
    /// (JSON starts with { ). A .json file that fails as JSON but reads like YAML gets a hint to rename it.
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
        var format = FormatOf(path, json);
        var result = Load(json, format, environment, folder);
        if (format == ConfigFormat.Json && result.Config is null && IsSyntaxError(result) && YamlTree.LooksLikeYaml(json))
        {
            var first = result.Errors[0];
            result = result with
            {
                Errors = [first with { Message = first.Message.TrimEnd('.') + "; the file looks like YAML: name it .yaml or .yml to read it as YAML" }],
            };
        }

        return result;
    }

    /// <summary>The format <see cref="LoadFile"/> reads <paramref name="path"/> in, given its text.</summary>
    public static ConfigFormat FormatOf(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(text);
        var extension = Path.GetExtension(path);
        if (extension.Equals(".yaml", StringComparison.OrdinalIgnoreCase) || extension.Equals(".yml", StringComparison.OrdinalIgnoreCase))
        {
            return ConfigFormat.Yaml;
        }

        if (extension.Equals(".json", StringComparison.OrdinalIgnoreCase))
        {
            return ConfigFormat.Json;
        }

        var start = text.AsSpan().TrimStart();
        return start.IsEmpty || start[0] is '{' || start.StartsWith("//") || start.StartsWith("/*") ? ConfigFormat.Json : ConfigFormat.Yaml;
    }

    /// <summary>Parse JSON text (comments and trailing commas allowed). Relative TLS paths stay relative
    /// to the current directory.</summary>
    public static ConfigLoadResult Parse(string json, IReadOnlyDictionary<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        return Load(json, ConfigFormat.Json, environment, baseFolder: null);
    }

    /// <summary>Parse YAML text: the same keys as JSON; errors also give the line and column of the key.</summary>
    public static ConfigLoadResult ParseYaml(string yaml, IReadOnlyDictionary<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        return Load(yaml, ConfigFormat.Yaml, environment, baseFolder: null);
    }

    private static ConfigLoadResult Load(string text, ConfigFormat format, IReadOnlyDictionary<string, string?>? environment, string? baseFolder)
    {
        var context = new BindContext();
        IReadOnlyDictionary<string, string>? locations = null;
        var tree = format == ConfigFormat.Yaml ? YamlTree.Parse(text, context, out locations) : JsonTree.Parse(text, context);
        if (tree is null)
        {
            return new ConfigLoadResult(null, Placed(context.Errors, locations));
        }

        if (tree is not JsonObject root)
        {
            context.Error("(root)", tree, format == ConfigFormat.Yaml
                ? "the config is a YAML mapping of keys; start with listeners: followed by a list"
                : "the config is a JSON object { … }; start with { \"listeners\": [ … ] }");
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

        return new ConfigLoadResult(errors.Count == 0 ? config : null, Placed(errors, locations));
    }

    private static bool IsSyntaxError(ConfigLoadResult result) =>
        result.Errors.Count == 1 && result.Errors[0].Path.StartsWith("line ", StringComparison.Ordinal);

    // A YAML error names its key's line: the path's own, else the nearest written parent's (a key the
    // validator names may be a default nobody wrote). Syntax errors carry their place in the path already.
    private static IReadOnlyList<ConfigError> Placed(IReadOnlyList<ConfigError> errors, IReadOnlyDictionary<string, string>? locations)
    {
        if (locations is null || locations.Count == 0)
        {
            return errors;
        }

        var placed = new List<ConfigError>(errors.Count);
        foreach (var error in errors)
        {
            var location = LocationOf(error.Path, locations);
            placed.Add(location is null ? error : error with { Location = location });
        }

        return placed;
    }

    private static string? LocationOf(string path, IReadOnlyDictionary<string, string> locations)
    {
        while (path.Length > 0)
        {
            if (locations.TryGetValue(path, out var location))
            {
                return location;
            }

            var cut = path.LastIndexOfAny(['.', '[']);
            if (cut <= 0)
            {
                return null;
            }

            path = path[..cut];
        }

        return null;
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

        var etcd = config.Etcd;
        if (etcd.Tls is { } etcdTls)
        {
            etcd = etcd with { Tls = etcdTls with { CaFile = Resolve(etcdTls.CaFile, baseFolder), Certificate = Resolve(etcdTls.Certificate, baseFolder), Key = Resolve(etcdTls.Key, baseFolder) } };
        }

        var accessLog = config.AccessLog;
        if (!accessLog.IsOff && !accessLog.IsStdout)
        {
            accessLog = accessLog with { Path = Resolve(accessLog.Path, baseFolder) };
        }

        return config with { Listeners = listeners, Clusters = clusters, Etcd = etcd, AccessLog = accessLog };
    }

    [return: NotNullIfNotNull(nameof(file))]
    private static string? Resolve(string? file, string baseFolder) =>
        string.IsNullOrWhiteSpace(file) || Path.IsPathRooted(file) ? file : Path.GetFullPath(Path.Combine(baseFolder, file));

    private static ConfigLoadResult Failed(string path, string message) =>
        new(null, [new ConfigError(path, null, message)]);
}
