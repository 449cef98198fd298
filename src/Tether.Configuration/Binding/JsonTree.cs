using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tether.Configuration.Binding;

/// <summary>
/// JSON text → a mutable <see cref="JsonNode"/> tree whose objects look keys up case-insensitively.
/// Built by hand from a <see cref="JsonDocument"/> because <see cref="JsonObject"/> only notices a
/// duplicate key lazily, with an exception that names no path; here a duplicate is an error with its path.
/// </summary>
internal static class JsonTree
{
    private static readonly JsonNodeOptions _nodeOptions = new() { PropertyNameCaseInsensitive = true };

    private static readonly JsonDocumentOptions _documentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>An empty object with case-insensitive keys, like every object <see cref="Parse"/> builds.</summary>
    public static JsonObject NewObject() => new(_nodeOptions);

    public static JsonArray NewArray() => new(_nodeOptions);

    /// <summary>The tree, or null after reporting a syntax error with its line and column.</summary>
    public static JsonNode? Parse(string json, BindContext context)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            context.ErrorValue("(root)", null, "the config is empty; write at least {} to take every default");
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(json, _documentOptions);
            return Convert(document.RootElement, "", context);
        }
        catch (JsonException e)
        {
            var line = (e.LineNumber ?? 0) + 1;
            var column = (e.BytePositionInLine ?? 0) + 1;
            context.ErrorValue($"line {line}, column {column}", null, "invalid JSON: " + WithoutPosition(e.Message));
            return null;
        }
    }

    private static JsonNode? Convert(JsonElement element, string path, BindContext context)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var jsonObject = NewObject();
                foreach (var property in element.EnumerateObject())
                {
                    var childPath = ConfigText.Child(path, property.Name);
                    if (jsonObject.TryGetPropertyValue(property.Name, out _))
                    {
                        context.ErrorValue(childPath, null, "this key is written twice (keys ignore case); keep one");
                        continue;
                    }

                    jsonObject.Add(property.Name, Convert(property.Value, childPath, context));
                }

                return jsonObject;
            case JsonValueKind.Array:
                var array = NewArray();
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    array.Add(Convert(item, ConfigText.Index(path, index++), context));
                }

                return array;
            case JsonValueKind.Null:
                return null;
            default:
                // Clone: the value must outlive the document it was read from.
                return JsonValue.Create(element.Clone(), _nodeOptions);
        }
    }

    // System.Text.Json appends " LineNumber: 3 | BytePositionInLine: 4." which the error path already says.
    private static string WithoutPosition(string message)
    {
        var at = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return at < 0 ? message : message[..at];
    }
}
