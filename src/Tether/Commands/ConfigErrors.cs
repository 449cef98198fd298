using Tether.Configuration;

namespace Tether.Commands;

/// <summary>How run, check and config report a config that does not load: the same lines for all three.</summary>
internal static class ConfigErrors
{
    /// <summary>Loads <paramref name="file"/> (JSON or YAML; null: the defaults, the config {}) with TETHER__ overrides;
    /// on failure writes every error to stderr, after a first line "FILE: N error(s)" with <paramref name="consequence"/>
    /// appended, and returns null.</summary>
    public static TetherConfig? Load(FileInfo? file, string consequence = "")
    {
        var environment = EnvironmentVariables.Read();
        var result = file is null ? ConfigLoader.Parse("{}", environment) : ConfigLoader.LoadFile(file.FullName, environment);
        if (result.Succeeded)
        {
            return result.Config!;
        }

        Console.Error.WriteLine($"{file?.FullName ?? "(defaults)"}: {result.Errors.Count} error(s){consequence}");
        foreach (var error in result.Errors)
        {
            Console.Error.WriteLine($"  {error}");
        }

        return null;
    }
}
