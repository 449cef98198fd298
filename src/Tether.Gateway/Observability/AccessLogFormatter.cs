using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Tether.Configuration;
using Tether.Gateway.Admin;
using Tether.Upstream;

namespace Tether.Gateway.Observability;

/// <summary>
/// Turns <see cref="AccessLogEntry"/> into one line of UTF-8 text, in nginx's combined format (plus the request
/// time and the upstream address) or as a JSON object. One instance per writer thread. Runs on the writer, off the
/// request path; still kept cheap (it is most of the log's cost): ASCII copied in one pass, the time formatted
/// once a second, numbers formatted in place.
/// </summary>
internal sealed class AccessLogFormatter
{

    // What nginx writes as it is: printable ASCII but '"' and '\'.
    private static readonly SearchValues<char> s_plain = SearchValues.Create(
        " !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    private static readonly byte[][] s_phases = [.. Enum.GetValues<UpstreamPhase>().Select(p => Encoding.ASCII.GetBytes($"\"{Names.Camel(p)}\""))];
    private static readonly byte[][] s_kinds = [.. Enum.GetValues<UpstreamErrorKind>().Select(k => Encoding.ASCII.GetBytes($"\"{Names.Camel(k)}\""))];

    private readonly byte[] _jsonSecond = new byte[20];
    private readonly byte[] _combinedSecond = new byte[20];
    private long _second = -1;

    public void Write(IBufferWriter<byte> output, AccessLogEntry entry, AccessLogFormat format)
    {
        // Lines come in time order, many a second: the date and time down to the second are formatted once a second.
        var second = entry.Time.Ticks / TimeSpan.TicksPerSecond;
        if (second != _second)
        {
            _second = second;
            entry.Time.TryFormat(_jsonSecond, out _, "yyyy-MM-ddTHH:mm:ss.", CultureInfo.InvariantCulture);
            entry.Time.TryFormat(_combinedSecond, out _, "dd/MMM/yyyy:HH:mm:ss", CultureInfo.InvariantCulture);
        }

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
    private void WriteCombined(IBufferWriter<byte> output, AccessLogEntry entry)
    {
        Escaped(output, entry.Client ?? "-");
        output.Write(" - - ["u8);
        output.Write(_combinedSecond);
        output.Write(" +0000] \""u8);
        Escaped(output, entry.Method);
        output.Write(" "u8);
        Escaped(output, entry.Target);
        output.Write(" "u8);
        Escaped(output, entry.Protocol);
        output.Write("\" "u8);
        Number(output, entry.Status);
        output.Write(" "u8);
        Number(output, entry.BytesOut);
        output.Write(" \""u8);
        Escaped(output, entry.Referer ?? "-");
        output.Write("\" \""u8);
        Escaped(output, entry.UserAgent ?? "-");
        output.Write("\" "u8);
        var span = output.GetSpan(32);
        output.Advance(Fixed(span, (long)Math.Round(entry.DurationSeconds * 1_000), 3));
        output.Write(" "u8);
        Escaped(output, entry.Destination ?? "-");
    }

    // Written by hand, field by field: twice as fast as a Utf8JsonWriter for a line this shape. Strings are
    // escaped as System.Text.Json's relaxed encoder does (only when they hold something to escape).
    private void WriteJson(IBufferWriter<byte> output, AccessLogEntry entry)
    {
        output.Write("{\"time\":\""u8);
        var time = output.GetSpan(24);
        _jsonSecond.CopyTo(time);
        var milliseconds = entry.Time.Millisecond;
        time[20] = (byte)('0' + (milliseconds / 100));
        time[21] = (byte)('0' + (milliseconds / 10 % 10));
        time[22] = (byte)('0' + (milliseconds % 10));
        time[23] = (byte)'Z';
        output.Advance(24);
        output.Write("\",\"client\":"u8);
        JsonString(output, entry.Client);
        output.Write(",\"method\":"u8);
        JsonString(output, entry.Method);
        output.Write(",\"host\":"u8);
        JsonString(output, entry.Host);
        output.Write(",\"path\":"u8);
        JsonString(output, entry.Target);
        output.Write(",\"protocol\":"u8);
        JsonString(output, entry.Protocol);
        output.Write(",\"status\":"u8);
        Number(output, entry.Status);
        output.Write(",\"bytesIn\":"u8);
        Number(output, entry.BytesIn);
        output.Write(",\"bytesOut\":"u8);
        Number(output, entry.BytesOut);
        output.Write(",\"duration\":"u8);
        var span = output.GetSpan(32);
        output.Advance(Fixed(span, (long)Math.Round(entry.DurationSeconds * 1_000_000), 6));
        output.Write(",\"cluster\":"u8);
        JsonString(output, entry.Cluster);
        output.Write(",\"upstream\":"u8);
        JsonString(output, entry.Destination);
        output.Write(entry.Reused switch
        {
            true => ",\"upstreamConnection\":\"reused\",\"retries\":"u8,
            false => ",\"upstreamConnection\":\"new\",\"retries\":"u8,
            null => ",\"upstreamConnection\":null,\"retries\":"u8,
        });
        Number(output, entry.Retries);
        output.Write(",\"errorPhase\":"u8);
        output.Write(entry.ErrorPhase is { } phase ? s_phases[(int)phase] : "null"u8);
        output.Write(",\"errorCause\":"u8);
        output.Write(entry.ErrorKind is { } kind ? s_kinds[(int)kind] : "null"u8);
        output.Write(",\"traceId\":"u8);
        var traceId = AccessLogEntry.TraceId(entry.TraceParent);
        if (traceId.IsEmpty)
        {
            output.Write("null"u8);
        }
        else
        {
            output.Write("\""u8);
            var id = output.GetSpan(traceId.Length);
            Ascii.FromUtf16(traceId, id, out var written);
            output.Advance(written);
            output.Write("\""u8);
        }

        output.Write(",\"userAgent\":"u8);
        JsonString(output, entry.UserAgent);
        output.Write("}"u8);
    }

    private static void JsonString(IBufferWriter<byte> output, string? text)
    {
        if (text is null)
        {
            output.Write("null"u8);
            return;
        }

        output.Write("\""u8);
        if (text.AsSpan().IndexOfAnyExcept(s_plain) < 0)
        {
            var span = output.GetSpan(text.Length);
            Ascii.FromUtf16(text, span, out var written);
            output.Advance(written);
        }
        else
        {
            output.Write(JsonEncodedText.Encode(text, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).EncodedUtf8Bytes);
        }

        output.Write("\""u8);
    }

    private static void Number(IBufferWriter<byte> output, long value)
    {
        var span = output.GetSpan(24);
        value.TryFormat(span, out var written, default, CultureInfo.InvariantCulture);
        output.Advance(written);
    }

    // units / 10^decimals with all its decimals ("0.000345" for 345 and 6): what a double's "F6" gives, faster.
    private static int Fixed(Span<byte> span, long units, int decimals)
    {
        var scale = 1L;
        for (var i = 0; i < decimals; i++)
        {
            scale *= 10;
        }

        units = Math.Max(0, units);
        (units / scale).TryFormat(span, out var n, default, CultureInfo.InvariantCulture);
        span[n++] = (byte)'.';
        var fraction = units % scale;
        for (var i = decimals - 1; i >= 0; i--)
        {
            span[n + i] = (byte)('0' + (fraction % 10));
            fraction /= 10;
        }

        return n + decimals;
    }

    // nginx's escaping of logged variables: '"', '\' and bytes outside printable ASCII as \xHH. Header values are
    // decoded as Latin-1, one character a byte; a character above U+00FF (never from Kestrel) is logged as '?'.
    private static void Escaped(IBufferWriter<byte> output, string text)
    {
        var plain = text.AsSpan().IndexOfAnyExcept(s_plain);
        if (plain < 0)
        {
            // The usual case: ASCII as it is, converted in one vectorised pass.
            var span = output.GetSpan(text.Length);
            Ascii.FromUtf16(text, span, out var written);
            output.Advance(written);
            return;
        }

        var escaped = output.GetSpan(text.Length * 4);
        var n = 0;
        foreach (var c in text)
        {
            if (s_plain.Contains(c))
            {
                escaped[n++] = (byte)c;
            }
            else if (c > 0xFF)
            {
                escaped[n++] = (byte)'?';
            }
            else
            {
                escaped[n++] = (byte)'\\';
                escaped[n++] = (byte)'x';
                escaped[n++] = (byte)"0123456789ABCDEF"[c >> 4];
                escaped[n++] = (byte)"0123456789ABCDEF"[c & 0xF];
            }
        }

        output.Advance(n);
    }
}
