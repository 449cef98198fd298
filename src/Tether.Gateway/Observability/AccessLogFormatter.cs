using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Tether.Configuration;
using Tether.Gateway.Admin;

namespace Tether.Gateway.Observability;

/// <summary>
/// Turns <see cref="AccessLogEntry"/> into one line of UTF-8 text, in nginx's combined format (plus the request
/// time and the upstream address) or as a JSON object. One instance per writer thread: it reuses its JSON writer.
/// </summary>
internal sealed class AccessLogFormatter
{
    private static readonly JsonWriterOptions s_jsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };
    private static readonly string[] s_months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

    private Utf8JsonWriter? _json;

    public void Write(IBufferWriter<byte> output, AccessLogEntry entry, AccessLogFormat format)
    {
        if (format == AccessLogFormat.Json)
        {
            WriteJson(output, entry);
        }
        else
        {
            WriteCombined(output, entry);
        }

        output.Write("\n"u8);
    }

    // $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
    // then $request_time (seconds, ms resolution) and $upstream_addr, "-" for what is unknown.
    private static void WriteCombined(IBufferWriter<byte> output, AccessLogEntry entry)
    {
        Escaped(output, entry.Client ?? "-");
        output.Write(" - - ["u8);
        var t = entry.Time;
        Number(output, t.Day, "00");
        output.Write("/"u8);
        Ascii(output, s_months[t.Month - 1]);
        output.Write("/"u8);
        Number(output, t.Year, "0000");
        output.Write(":"u8);
        Number(output, t.Hour, "00");
        output.Write(":"u8);
        Number(output, t.Minute, "00");
        output.Write(":"u8);
        Number(output, t.Second, "00");
        output.Write(" +0000] \""u8);
        Escaped(output, entry.Method);
        output.Write(" "u8);
        Escaped(output, entry.Target);
        output.Write(" "u8);
        Escaped(output, entry.Protocol);
        output.Write("\" "u8);
        Number(output, entry.Status, "0");
        output.Write(" "u8);
        Number(output, entry.BytesOut, "0");
        output.Write(" \""u8);
        Escaped(output, entry.Referer ?? "-");
        output.Write("\" \""u8);
        Escaped(output, entry.UserAgent ?? "-");
        output.Write("\" "u8);
        Number(output, entry.DurationSeconds, "0.000");
        output.Write(" "u8);
        Escaped(output, entry.Destination ?? "-");
    }

    private void WriteJson(IBufferWriter<byte> output, AccessLogEntry entry)
    {
        var json = _json ??= new Utf8JsonWriter(output, s_jsonOptions);
        json.Reset(output);
        json.WriteStartObject();
        json.WriteString("time", entry.Time.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
        json.WriteString("client", entry.Client);
        json.WriteString("method", entry.Method);
        json.WriteString("host", entry.Host);
        json.WriteString("path", entry.Target);
        json.WriteString("protocol", entry.Protocol);
        json.WriteNumber("status", entry.Status);
        json.WriteNumber("bytesIn", entry.BytesIn);
        json.WriteNumber("bytesOut", entry.BytesOut);
        json.WriteNumber("duration", Math.Round(entry.DurationSeconds, 6));
        json.WriteString("cluster", entry.Cluster);
        json.WriteString("upstream", entry.Destination);
        json.WriteString("upstreamConnection", entry.Reused switch { true => "reused", false => "new", null => null });
        json.WriteNumber("retries", entry.Retries);
        json.WriteString("errorPhase", entry.ErrorPhase is { } phase ? Names.Camel(phase) : null);
        json.WriteString("errorCause", entry.ErrorKind is { } kind ? Names.Camel(kind) : null);
        var traceId = AccessLogEntry.TraceId(entry.TraceParent);
        if (traceId.IsEmpty)
        {
            json.WriteNull("traceId");
        }
        else
        {
            json.WriteString("traceId", traceId);
        }

        json.WriteString("userAgent", entry.UserAgent);
        json.WriteEndObject();
        json.Flush();
    }

    private static void Number<T>(IBufferWriter<byte> output, T value, string format)
        where T : IUtf8SpanFormattable
    {
        var span = output.GetSpan(32);
        if (!value.TryFormat(span, out var written, format, CultureInfo.InvariantCulture))
        {
            written = 0;
        }

        output.Advance(written);
    }

    private static void Ascii(IBufferWriter<byte> output, string text)
    {
        var span = output.GetSpan(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            span[i] = (byte)text[i];
        }

        output.Advance(text.Length);
    }

    // nginx's escaping of logged variables: '"', '\' and bytes outside printable ASCII as \xHH. Header values are
    // decoded as Latin-1, one character a byte; a character above U+00FF (never from Kestrel) is logged as '?'.
    private static void Escaped(IBufferWriter<byte> output, string text)
    {
        var span = output.GetSpan(text.Length * 4);
        var n = 0;
        foreach (var c in text)
        {
            if (c is >= ' ' and <= '~' and not '"' and not '\\')
            {
                span[n++] = (byte)c;
            }
            else if (c > 0xFF)
            {
                span[n++] = (byte)'?';
            }
            else
            {
                n += Hex(span[n..], (byte)c);
            }
        }

        output.Advance(n);
    }

    private static int Hex(Span<byte> span, byte b)
    {
        span[0] = (byte)'\\';
        span[1] = (byte)'x';
        span[2] = (byte)"0123456789ABCDEF"[b >> 4];
        span[3] = (byte)"0123456789ABCDEF"[b & 0xF];
        return 4;
    }
}
