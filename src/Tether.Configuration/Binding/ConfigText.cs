using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tether.Configuration.Binding;

/// <summary>How paths and values are written in error messages.</summary>
internal static class ConfigText
{
    private const int MaxValueLength = 60;

    private static readonly JsonSerializerOptions _relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>"clusters" + "api" → "clusters.api"; "" + "listeners" → "listeners".</summary>
    public static string Child(string path, string key) => path.Length == 0 ? key : path + "." + key;

    /// <summary>"listeners" + 1 → "listeners[1]".</summary>
    public static string Index(string path, int index) => $"{path}[{index}]";

    public static string Quote(string text) => "\"" + text + "\"";

    /// <summary>The value as JSON text, shortened when long; null for a missing node.</summary>
    public static string? Describe(JsonNode? node)
    {
        if (node is null)
        {
            return "null";
        }

        var text = node.ToJsonString(_relaxed);
        return text.Length <= MaxValueLength ? text : text[..(MaxValueLength - 3)] + "...";
    }

    /// <summary>"a number", "an object", … for "expected X, got Y" messages.</summary>
    public static string KindOf(JsonNode? node) => (node?.GetValueKind() ?? JsonValueKind.Null) switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    /// <summary>True if <paramref name="path"/> equals <paramref name="ancestor"/> or is a key or index below it.</summary>
    public static bool IsSameOrBelow(string path, string ancestor) =>
        path.Length == ancestor.Length
            ? path.Equals(ancestor, StringComparison.Ordinal)
            : path.Length > ancestor.Length
              && path.StartsWith(ancestor, StringComparison.Ordinal)
              && (path[ancestor.Length] == '.' || path[ancestor.Length] == '[');
}
