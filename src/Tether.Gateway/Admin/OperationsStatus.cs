using System.Text.Encodings.Web;
using System.Text.Json;
using Tether.Gateway.Observability;
using Tether.Gateway.Reload;

namespace Tether.Gateway.Admin;

/// <summary>The drain, reload and recycling figures of /status, and the JSON every admin answer is written with.</summary>
internal static class OperationsStatus
{
    /// <summary>Indented, with plain characters: "+Inf" and quotes in error messages as they are, not \u002B or \u0022.</summary>
    public static JsonWriterOptions JsonOptions { get; } = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void WriteJson(Utf8JsonWriter json, OperationsFigures operations)
    {
        json.WriteBoolean("ready", operations.Ready);
        json.WriteBoolean("draining", operations.Draining);
        json.WriteStartObject("recycle");
        json.WriteBoolean("active", operations.RecycleActive);
        json.WriteNumber("recycled", operations.Recycled);
        json.WriteEndObject();
        json.WriteNumber("retiredClusters", operations.RetiredClusters);
        if (operations.ConfigRevision is { } revision)
        {
            json.WriteNumber("configRevision", revision);
        }
        else
        {
            json.WriteNull("configRevision");
        }

        if (operations.LastReload is { } reload)
        {
            json.WritePropertyName("lastReload");
            WriteReload(json, reload);
        }
        else
        {
            json.WriteNull("lastReload");
        }
    }

    /// <summary>One reload's outcome as a JSON object (/status lastReload, and the answer of POST /reload).</summary>
    public static void WriteReload(Utf8JsonWriter json, ReloadResult reload)
    {
        json.WriteStartObject();
        json.WriteString("at", reload.At);
        json.WriteBoolean("ok", reload.Ok);
        json.WriteString("trigger", reload.Trigger);
        json.WriteString("summary", reload.Summary);
        if (reload.Revision is { } revision)
        {
            json.WriteNumber("revision", revision);
        }

        json.WriteStartArray("errors");
        foreach (var error in reload.Errors)
        {
            json.WriteStringValue(error);
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }
}
