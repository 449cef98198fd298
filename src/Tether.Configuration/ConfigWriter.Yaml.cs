using System.Text.Json;
using System.Text.Json.Nodes;
using Tether.Configuration.Binding;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Tether.Configuration;

public static partial class ConfigWriter
{
    /// <summary>The same keys and values as <see cref="ToJson"/>, in YAML block style; <see cref="ConfigLoader.ParseYaml"/>
    /// reads it back to the same config. Strings that would read as a number, boolean or null are quoted.</summary>
    public static string ToYaml(TetherConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        using var text = new StringWriter();
        var emitter = new Emitter(text, new EmitterSettings().WithBestIndent(2));
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart(null, null, isImplicit: true));
        Emit(emitter, ToTree(config));
        emitter.Emit(new DocumentEnd(isImplicit: true));
        emitter.Emit(new StreamEnd());
        return text.ToString();
    }

    // Tether reads YAML 1.2, where a bare off is text; YAML 1.1 tools (and people) read off, yes, on, no as booleans.
    private static bool IsYaml11Boolean(string text) =>
        text.ToLowerInvariant() is "y" or "n" or "yes" or "no" or "on" or "off";

    private static void Emit(Emitter emitter, JsonNode? node)
    {
        switch (node)
        {
            case JsonObject jsonObject:
                emitter.Emit(new MappingStart(null, null, isImplicit: true, jsonObject.Count == 0 ? MappingStyle.Flow : MappingStyle.Block));
                foreach (var (key, value) in jsonObject)
                {
                    emitter.Emit(new Scalar(key));
                    Emit(emitter, value);
                }

                emitter.Emit(new MappingEnd());
                break;
            case JsonArray array:
                emitter.Emit(new SequenceStart(null, null, isImplicit: true, array.Count == 0 ? SequenceStyle.Flow : SequenceStyle.Block));
                foreach (var item in array)
                {
                    Emit(emitter, item);
                }

                emitter.Emit(new SequenceEnd());
                break;
            case null:
                emitter.Emit(new Scalar("null"));
                break;
            default:
                var kind = node.GetValueKind();
                if (kind == JsonValueKind.String)
                {
                    var text = node.GetValue<string>();
                    var style = YamlTree.ReadsAsString(text) && !IsYaml11Boolean(text) ? ScalarStyle.Any : ScalarStyle.DoubleQuoted;
                    emitter.Emit(new Scalar(null, null, text, style, isPlainImplicit: true, isQuotedImplicit: true));
                }
                else
                {
                    emitter.Emit(new Scalar(node.ToJsonString()));
                }

                break;
        }
    }
}
