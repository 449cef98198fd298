using System.Text.Json.Nodes;

namespace Tether.Configuration.Binding;

/// <summary>
/// Reads one JSON object of the config. Every key the binder asks for becomes a known key, so the
/// binder's reads are the schema: <see cref="Finish"/> reports any other key as unknown and suggests
/// the closest known one. A missing object reads as empty, so every key takes its default.
/// </summary>
internal sealed class ObjectReader
{
    private readonly BindContext _context;

    // Null when the object is absent (or was not an object, already reported): every read gives its default.
    private readonly JsonObject? _object;

    // Canonical (camelCase) names of the keys asked for so far, for unknown-key checks and suggestions.
    private readonly List<string> _knownKeys = [];

    private bool _acceptsAnyKey;

    private ObjectReader(BindContext context, JsonObject? jsonObject, string path)
    {
        _context = context;
        _object = jsonObject;
        Path = path;
    }

    /// <summary>Dotted path of this object ("clusters.api.pool").</summary>
    public string Path { get; }

    /// <summary>True if the object was written (in the file or by a variable).</summary>
    public bool IsPresent => _object is not null;

    public BindContext Context => _context;

    /// <summary>A reader over <paramref name="node"/>; null means absent; anything but an object is reported.</summary>
    public static ObjectReader Open(BindContext context, JsonNode? node, string path)
    {
        if (node is null or JsonObject)
        {
            return new ObjectReader(context, (JsonObject?)node, path);
        }

        context.Error(path, node, $"expected an object {{ … }}, got {ConfigText.KindOf(node)}");
        return new ObjectReader(context, null, path);
    }

    /// <summary>The node under <paramref name="key"/> (matched case-insensitively), and the key's path.</summary>
    private JsonNode? Take(string key, out string path, out bool present)
    {
        _knownKeys.Add(key);
        path = ConfigText.Child(Path, key);
        JsonNode? node = null;
        present = _object is not null && _object.TryGetPropertyValue(key, out node);
        return node;
    }

    /// <summary>A value of any shape: absent → <paramref name="defaultValue"/>; a value the parser rejects is
    /// reported and also gives the default, so binding goes on and finds the next error.</summary>
    public T Read<T>(string key, T defaultValue, ValueParser<T> parser)
    {
        var node = Take(key, out var path, out var present);
        if (!present)
        {
            return defaultValue;
        }

        var fromEnvironment = _context.VariableOf(node) is not null;
        if (parser(node, fromEnvironment, out var value, out var error))
        {
            return value;
        }

        _context.Error(path, node, error);
        return defaultValue;
    }

    /// <summary>The object under <paramref name="key"/>; check <see cref="IsPresent"/> for optional sections.</summary>
    public ObjectReader Object(string key) => Open(_context, Take(key, out var path, out _), path);

    /// <summary>The array under <paramref name="key"/>, or null when absent, JSON null, or not an array (reported).</summary>
    public JsonArray? Array(string key, out string path)
    {
        var node = Take(key, out path, out _);
        if (node is null or JsonArray)
        {
            return (JsonArray?)node;
        }

        _context.Error(path, node, $"expected an array [ … ], got {ConfigText.KindOf(node)}");
        return null;
    }

    /// <summary>All entries of a map-like object (clusters by name); every key is accepted.</summary>
    public IEnumerable<KeyValuePair<string, JsonNode?>> Entries()
    {
        _acceptsAnyKey = true;
        return _object ?? [];
    }

    /// <summary>Report every key that was not asked for, with the closest known key.</summary>
    public void Finish()
    {
        if (_object is null || _acceptsAnyKey)
        {
            return;
        }

        foreach (var (key, node) in _object)
        {
            if (Contains(_knownKeys, key))
            {
                continue;
            }

            var suggestion = KeySuggester.Closest(key, _knownKeys);
            var hint = suggestion is not null
                ? $"did you mean '{suggestion}'?"
                : $"the keys here are {string.Join(", ", _knownKeys.Select(k => "'" + k + "'"))}";
            _context.Error(ConfigText.Child(Path, key), node, $"unknown key '{key}'; {hint}");
        }
    }

    private static bool Contains(List<string> keys, string key)
    {
        foreach (var known in keys)
        {
            if (known.Equals(key, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
