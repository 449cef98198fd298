namespace Tether.Configuration.Tests;

/// <summary>Loading shortcuts and assertions on the errors a load reports.</summary>
internal static class ConfigAssert
{
    public static ConfigLoadResult Parse(string json, params (string Name, string? Value)[] environment)
    {
        var variables = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (name, value) in environment)
        {
            variables[name] = value;
        }

        return ConfigLoader.Parse(json, variables);
    }

    public static TetherConfig Valid(string json, params (string Name, string? Value)[] environment)
    {
        var result = Parse(json, environment);
        Assert.True(result.Succeeded, "unexpected errors:\n" + string.Join("\n", result.Errors));
        return result.Config!;
    }

    /// <summary>Asserts the load failed with exactly one error, at <paramref name="path"/>, whose message
    /// contains <paramref name="fix"/>; returns it.</summary>
    public static ConfigError SingleError(string json, string path, string fix, params (string Name, string? Value)[] environment)
    {
        var result = Parse(json, environment);
        Assert.False(result.Succeeded);
        Assert.Null(result.Config);
        var error = Assert.Single(result.Errors);
        Assert.Equal(path, error.Path);
        Assert.Contains(fix, error.Message, StringComparison.Ordinal);
        return error;
    }

    /// <summary>Asserts exactly one error of a code-built config, at <paramref name="path"/>, naming <paramref name="fix"/>.</summary>
    public static ConfigError SingleError(TetherConfig config, string path, string fix)
    {
        var error = Assert.Single(ConfigValidator.Validate(config));
        Assert.Equal(path, error.Path);
        Assert.Contains(fix, error.Message, StringComparison.Ordinal);
        return error;
    }

    /// <summary>A valid config around one cluster "api" with the given cluster body.</summary>
    public static string WithCluster(string clusterBody) =>
        $$"""{ "routes": [{ "cluster": "api" }], "clusters": { "api": {{clusterBody}} } }""";
}
