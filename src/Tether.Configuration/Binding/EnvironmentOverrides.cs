using System.Globalization;
using System.Text.Json.Nodes;

namespace Tether.Configuration.Binding;

/// <summary>
/// Applies TETHER__ variables to the JSON tree before binding: TETHER__DOWNSTREAM__KEEPALIVETIMEOUT=30s
/// sets downstream.keepAliveTimeout; TETHER__LISTENERS__0__ADDRESS sets the first listener's address
/// (index = count appends one); TETHER__CLUSTERS__API__POOL__IDLETIMEOUT reaches cluster "api" or "API",
/// else creates "api". Keys match case-insensitively; new keys are written lower-case, which the binder
/// matches like any other key. Values stay strings here; the binder coerces them by the key's type.
/// </summary>
internal static class EnvironmentOverrides
{
    public const string Prefix = "TETHER__";

    private const string Separator = "__";

    public static void Apply(JsonObject root, IReadOnlyDictionary<string, string?>? environment, BindContext context)
    {
        if (environment is null)
        {
            return;
        }

        var variables = new List<string>();
        foreach (var (name, value) in environment)
        {
            if (value is not null && name.Length > Prefix.Length && name.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
            {
                variables.Add(name);
            }
        }

        // Index order, so that LISTENERS__1 exists before LISTENERS__2 appends after it.
        variables.Sort(CompareVariableNames);
        foreach (var name in variables)
        {
            Set(root, name, environment[name]!, context);
        }
    }

    private static void Set(JsonObject root, string variable, string value, BindContext context)
    {
        var segments = variable[Prefix.Length..].Split(Separator);
        if (Array.IndexOf(segments, "") >= 0)
        {
            context.ErrorValue(variable, ConfigText.Quote(value),
                "the variable name has an empty key; separate keys with exactly two underscores, as TETHER__DOWNSTREAM__KEEPALIVETIMEOUT");
            return;
        }

        // Walk down, creating what is missing; nothing is attached to the tree until every segment has
        // worked, so a variable that fails half-way leaves no empty object or array behind.
        var attachments = new List<Action>();
        JsonNode current = root;
        for (var i = 0; i < segments.Length; i++)
        {
            var last = i == segments.Length - 1;
            JsonNode created = last
                ? JsonValue.Create(value)
                : IsIndex(segments[i + 1]) ? JsonTree.NewArray() : JsonTree.NewObject();
            context.MarkFromEnvironment(created, variable);

            // current is always an object or an array: Step only returns containers, except at the last segment.
            var next = current is JsonObject jsonObject
                ? Step(jsonObject, segments[i], created, last, attachments, out var problem)
                : Step((JsonArray)current, segments[i], created, last, attachments, out problem);
            if (next is null)
            {
                context.ErrorValue(variable, ConfigText.Quote(value), problem);
                return;
            }

            current = next;
        }

        foreach (var attach in attachments)
        {
            attach();
        }
    }

    // The child under key: the existing container, or created (attached later) when absent, null, or at the
    // last segment; null if the existing value cannot hold keys.
    private static JsonNode? Step(JsonObject jsonObject, string key, JsonNode created, bool last, List<Action> attachments, out string problem)
    {
        problem = "";
        var existingKey = FindKey(jsonObject, key);
        var existing = existingKey is null ? null : jsonObject[existingKey];
        if (last || existing is null)
        {
            attachments.Add(() => jsonObject[existingKey ?? key.ToLowerInvariant()] = created);
            return created;
        }

        if (existing is JsonObject or JsonArray)
        {
            return existing;
        }

        problem = $"'{existingKey}' holds a value, not an object or array, so it has no keys below it";
        return null;
    }

    private static JsonNode? Step(JsonArray array, string segment, JsonNode created, bool last, List<Action> attachments, out string problem)
    {
        problem = "";
        if (!IsIndex(segment))
        {
            problem = $"'{segment}' is not an index; this key holds an array, so write a number such as 0";
            return null;
        }

        var index = int.Parse(segment, NumberStyles.None, CultureInfo.InvariantCulture);
        if (index > array.Count)
        {
            problem = $"index {index} is past the end: the array has {array.Count} element(s), so use 0 to {array.Count}";
            return null;
        }

        var existing = index < array.Count ? array[index] : null;
        if (index == array.Count)
        {
            attachments.Add(() => array.Add(created));
            return created;
        }

        if (last || existing is null)
        {
            attachments.Add(() => array[index] = created);
            return created;
        }

        if (existing is JsonObject or JsonArray)
        {
            return existing;
        }

        problem = $"element {index} holds a value, not an object, so it has no keys below it; write it as an object in the file";
        return null;
    }

    private static string? FindKey(JsonObject jsonObject, string key)
    {
        foreach (var (existing, _) in jsonObject)
        {
            if (existing.Equals(key, StringComparison.OrdinalIgnoreCase))
            {
                return existing;
            }
        }

        return null;
    }

    private static bool IsIndex(string segment) =>
        segment.Length is > 0 and < 6 && int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out _);

    // Segment by segment; numbers compare as numbers so that 2 sorts before 10.
    private static int CompareVariableNames(string a, string b)
    {
        var left = a.Split(Separator);
        var right = b.Split(Separator);
        for (var i = 0; i < Math.Min(left.Length, right.Length); i++)
        {
            var order = IsIndex(left[i]) && IsIndex(right[i])
                ? int.Parse(left[i], CultureInfo.InvariantCulture).CompareTo(int.Parse(right[i], CultureInfo.InvariantCulture))
                : string.Compare(left[i], right[i], StringComparison.OrdinalIgnoreCase);
            if (order != 0)
            {
                return order;
            }
        }

        return left.Length.CompareTo(right.Length);
    }
}
