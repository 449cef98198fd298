using System.Text.Json.Nodes;

namespace Tether.Configuration.Binding;

/// <summary>
/// What one load collects on its way: every error, which JSON nodes came from TETHER__ variables
/// (so an error can name the variable and string values can be coerced), and the paths whose
/// value could not be bound (so validation does not report the same place a second time).
/// </summary>
internal sealed class BindContext
{
    private readonly List<ConfigError> _errors = [];
    private readonly Dictionary<JsonNode, string> _variableByNode = new(ReferenceEqualityComparer.Instance);
    private readonly List<string> _failedPaths = [];

    public IReadOnlyList<ConfigError> Errors => _errors;

    public IReadOnlyList<string> FailedPaths => _failedPaths;

    /// <summary>Remember that <paramref name="node"/> was written by environment variable <paramref name="variable"/>.</summary>
    public void MarkFromEnvironment(JsonNode node, string variable) => _variableByNode[node] = variable;

    /// <summary>The variable that wrote <paramref name="node"/>, or null when it came from the file.</summary>
    public string? VariableOf(JsonNode? node) =>
        node is not null && _variableByNode.TryGetValue(node, out var variable) ? variable : null;

    /// <summary>An error about <paramref name="node"/> at <paramref name="path"/>; names the variable if one set it.</summary>
    public void Error(string path, JsonNode? node, string message)
    {
        var variable = VariableOf(node);
        var value = variable is not null && node is JsonValue env && env.TryGetValue<string>(out var raw)
            ? ConfigText.Quote(raw)
            : ConfigText.Describe(node);
        if (variable is not null)
        {
            message += $" (set by environment variable {variable})";
        }

        _errors.Add(new ConfigError(path, value, message));
        MarkFailed(path);
    }

    /// <summary>An error with no JSON node behind it (a file that cannot be read, a bad variable name).</summary>
    public void ErrorValue(string path, string? value, string message)
    {
        _errors.Add(new ConfigError(path, value, message));
        MarkFailed(path);
    }

    /// <summary>Validation stays quiet about <paramref name="path"/> and everything below it.</summary>
    public void MarkFailed(string path) => _failedPaths.Add(path);

    /// <summary>True if <paramref name="path"/> is, or lies below, a path that already has a binding error.</summary>
    public bool IsBelowFailed(string path)
    {
        foreach (var failed in _failedPaths)
        {
            if (ConfigText.IsSameOrBelow(path, failed))
            {
                return true;
            }
        }

        return false;
    }
}
