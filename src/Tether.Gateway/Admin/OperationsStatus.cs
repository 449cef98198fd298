using System.Globalization;
using System.Text;
using System.Text.Json;
using Tether.Gateway.Reload;

namespace Tether.Gateway.Admin;

/// <summary>The drain, reload and recycling figures of /status and /metrics.</summary>
internal static class OperationsStatus
{
    public static void WriteJson(Utf8JsonWriter json, TetherGateway gateway)
    {
        json.WriteBoolean("ready", gateway.IsReady);
        json.WriteBoolean("draining", gateway.Drainer.IsDraining);
        json.WriteStartObject("recycle");
        json.WriteBoolean("active", gateway.Recycler.Current is not null);
        json.WriteNumber("recycled", gateway.Recycler.Recycled);
        json.WriteEndObject();
        json.WriteNumber("retiredClusters", gateway.Retired.Count);
        if (gateway.LastReload is { } reload)
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
        json.WriteStartArray("errors");
        foreach (var error in reload.Errors)
        {
            json.WriteStringValue(error);
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    public static void WritePrometheus(StringBuilder sb, TetherGateway gateway)
    {
        Append(sb, "tether_ready", "gauge", "1 while the gateway takes new connections, 0 once draining.", gateway.IsReady ? 1 : 0);
        Append(sb, "tether_recycled_connections_total", "counter", "Client connections closed to rebalance after a destination change.", gateway.Recycler.Recycled);
        if (gateway.LastReload is { } reload)
        {
            Append(sb, "tether_last_reload_ok", "gauge", "1 if the last reload was applied, 0 if it was rejected.", reload.Ok ? 1 : 0);
            Append(sb, "tether_last_reload_timestamp_seconds", "gauge", "When the last reload was attempted (Unix time).", reload.At.ToUnixTimeSeconds());
        }
    }

    private static void Append(StringBuilder sb, string name, string type, string help, long value) =>
        sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n{name} {value}\n");
}
