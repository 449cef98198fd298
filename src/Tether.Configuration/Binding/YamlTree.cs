using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Tether.Configuration.Binding;

/// <summary>
/// YAML text → the same case-insensitive <see cref="JsonNode"/> tree <see cref="JsonTree"/> builds, so every key,
/// default and error message is the JSON config's. Scalars are typed by YAML 1.2's core schema (plain
/// <c>64</c> is a number, <c>true</c> a boolean, <c>~</c> null; quoted text is always a string), as JSON would
/// have them. The place of every key and item is kept so an error can say which line to look at.
/// </summary>
internal static partial class YamlTree
{
    // Aliases copy the anchored subtree; a few nested aliases can otherwise expand to billions of nodes.
    private const int MaxNodes = 100_000;

    /// <summary>The tree, or null after reporting a syntax error (with its line and column) in <paramref name="context"/>.
    /// <paramref name="locations"/> maps each path ("clusters.api.pool") to "line 3, column 5".</summary>
    public static JsonNode? Parse(string yaml, BindContext context, out IReadOnlyDictionary<string, string> locations)
    {
        var reader = new Reader(context);
        locations = reader.Locations;
        if (string.IsNullOrWhiteSpace(yaml))
        {
            context.ErrorValue("(root)", null, "the config is empty; write at least {} to take every default");
            return null;
        }

        try
        {
            var parser = new Parser(new StringReader(yaml));
            parser.Consume<StreamStart>();
            if (!parser.TryConsume<DocumentStart>(out _))
            {
                context.ErrorValue("(root)", null, "the config is empty (only comments); write at least {} to take every default");
                return null;
            }

            var root = reader.Node(parser, "");
            parser.Consume<DocumentEnd>();
            if (parser.TryConsume<DocumentStart>(out var second))
            {
                context.ErrorValue(Where(second.Start), null, "the file holds more than one YAML document (---); keep the config in one");
                return null;
            }

            return reader.Failed ? null : root;
        }
        catch (YamlException e)
        {
            context.ErrorValue(Where(e.Start), null, "invalid YAML: " + WithoutPosition(e.Message));
            return null;
        }
    }

    /// <summary>Whether text that failed as JSON looks like YAML (a first line such as <c>listeners:</c> or <c>- </c>).</summary>
    public static bool LooksLikeYaml(string text)
    {
        foreach (var raw in text.AsSpan().EnumerateLines())
        {
            var line = raw.Trim();
            if (line.IsEmpty || line[0] == '#')
            {
                continue;
            }

            return line.StartsWith("---") || line.StartsWith("- ") || FirstYamlLine().IsMatch(line);
        }

        return false;
    }

    /// <summary>True if <paramref name="text"/> written plain (unquoted) reads back as that string, not as a
    /// number, boolean or null.</summary>
    public static bool ReadsAsString(string text) =>
        Reader.Scalar(new Scalar(null, null, text, ScalarStyle.Plain, isPlainImplicit: true, isQuotedImplicit: false)) is JsonValue value && value.GetValueKind() == System.Text.Json.JsonValueKind.String;

    /// <summary>"line 3, column 5", as JSON syntax errors are placed.</summary>
    public static string Where(Mark mark) => $"line {mark.Line}, column {mark.Column}";

    // YamlDotNet starts its messages with "(Line: 3, Col: 5, Idx: 20) - (Line: 3, Col: 9, Idx: 24): "; the path says where.
    private static string WithoutPosition(string message)
    {
        var at = message.IndexOf("): ", StringComparison.Ordinal);
        return message.StartsWith("(Line:", StringComparison.Ordinal) && at >= 0 ? message[(at + 3)..] : message;
    }

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_.-]*\s*:(\s|$)")]
    private static partial Regex FirstYamlLine();

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex Integer();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex Decimal();

    [GeneratedRegex(@"^0o[0-7]{1,20}$")]
    private static partial Regex Octal();

    private sealed class Reader(BindContext context)
    {
        private readonly Dictionary<string, (JsonNode? Node, int Size)> _anchors = new(StringComparer.Ordinal);
        private readonly Dictionary<string, string> _locations = new(StringComparer.OrdinalIgnoreCase);
        private int _nodes;

        public IReadOnlyDictionary<string, string> Locations => _locations;

        public bool Failed { get; private set; }

        public JsonNode? Node(IParser parser, string path)
        {
            var start = _nodes;
            JsonNode? node;
            string? anchor;
            if (parser.TryConsume<AnchorAlias>(out var alias))
            {
                if (!_anchors.TryGetValue(alias.Value.Value, out var anchored))
                {
                    throw new YamlException(alias.Start, alias.End, $"the alias *{alias.Value} names no anchor &{alias.Value} written before it");
                }

                Count(anchored.Size, alias.Start);
                return anchored.Node?.DeepClone();
            }

            if (parser.TryConsume<MappingStart>(out var mapping))
            {
                anchor = mapping.Anchor.IsEmpty ? null : mapping.Anchor.Value;
                node = Mapping(parser, path, mapping.Start);
            }
            else if (parser.TryConsume<SequenceStart>(out var sequence))
            {
                anchor = sequence.Anchor.IsEmpty ? null : sequence.Anchor.Value;
                node = Sequence(parser, path, sequence.Start);
            }
            else
            {
                var scalar = parser.Consume<Scalar>();
                anchor = scalar.Anchor.IsEmpty ? null : scalar.Anchor.Value;
                Count(1, scalar.Start);
                node = Scalar(scalar);
            }

            if (anchor is not null)
            {
                _anchors[anchor] = (node, _nodes - start);
            }

            return node;
        }

        private JsonObject Mapping(IParser parser, string path, Mark start)
        {
            Count(1, start);
            var jsonObject = JsonTree.NewObject();
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                if (!parser.Accept<Scalar>(out var key))
                {
                    var at = parser.Current!.Start;
                    throw new YamlException(at, parser.Current.End, "a key must be a plain name such as idleTimeout, not a list or an object");
                }

                parser.MoveNext();
                var childPath = ConfigText.Child(path, key.Value);
                var duplicate = jsonObject.ContainsKey(key.Value);
                _locations.TryAdd(childPath, Where(key.Start));
                var value = Node(parser, childPath);
                if (duplicate)
                {
                    context.ErrorValue(childPath, null, $"this key is written twice (keys ignore case); keep one ({Where(key.Start)})");
                    continue;
                }

                jsonObject.Add(key.Value, value);
            }

            return jsonObject;
        }

        private JsonArray Sequence(IParser parser, string path, Mark start)
        {
            Count(1, start);
            var array = JsonTree.NewArray();
            var index = 0;
            while (!parser.TryConsume<SequenceEnd>(out _))
            {
                var itemPath = ConfigText.Index(path, index++);
                _locations.TryAdd(itemPath, Where(parser.Current!.Start));
                array.Add(Node(parser, itemPath));
            }

            return array;
        }

        private void Count(int nodes, Mark at)
        {
            _nodes += nodes;
            if (_nodes > MaxNodes)
            {
                throw new YamlException(at, at, $"the config expands to more than {MaxNodes} values (through aliases?); write it out plainly");
            }
        }

        // YAML 1.2 core schema: an explicit tag wins; quoted and block scalars are strings; a plain scalar is
        // null, a boolean or a number when it reads as one, else a string.
        public static JsonNode? Scalar(Scalar scalar)
        {
            var text = scalar.Value;
            var tag = scalar.Tag.IsEmpty ? null : scalar.Tag.Value;
            if (tag == "tag:yaml.org,2002:str" || (tag is null && scalar.Style != ScalarStyle.Plain))
            {
                return JsonValue.Create(text);
            }

            if (tag is null or "tag:yaml.org,2002:null" && text is "" or "~" or "null" or "Null" or "NULL")
            {
                return null;
            }

            if (tag is null or "tag:yaml.org,2002:bool")
            {
                if (text is "true" or "True" or "TRUE")
                {
                    return JsonValue.Create(true);
                }

                if (text is "false" or "False" or "FALSE")
                {
                    return JsonValue.Create(false);
                }
            }

            if (tag is null or "tag:yaml.org,2002:int" or "tag:yaml.org,2002:float")
            {
                // Through the JSON reader, so the number is the same kind of node a JSON file gives ("+5", "1.",
                // ".5", "0x1f", "0o17" are YAML numbers but not JSON text: written out again first).
                string? json = null;
                if (Integer().IsMatch(text) && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole))
                {
                    json = whole.ToString(CultureInfo.InvariantCulture);
                }
                else if (Decimal().IsMatch(text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var real) && double.IsFinite(real))
                {
                    json = real.ToString("R", CultureInfo.InvariantCulture);
                }
                else if (text.StartsWith("0x", StringComparison.Ordinal) && long.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex))
                {
                    json = hex.ToString(CultureInfo.InvariantCulture);
                }
                else if (Octal().IsMatch(text))
                {
                    json = Convert.ToInt64(text[2..], 8).ToString(CultureInfo.InvariantCulture);
                }

                if (json is not null)
                {
                    return JsonNode.Parse(json);
                }
            }

            return JsonValue.Create(text);
        }
    }
}
