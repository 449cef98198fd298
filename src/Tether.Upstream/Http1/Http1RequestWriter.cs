using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Tether.Upstream.Http1;

/// <summary>Serializes a request head and chunked framing into a buffer writer. Values are written as Latin-1.</summary>
public static class Http1RequestWriter
{
    public static void WriteRequestLine(IBufferWriter<byte> writer, string method, string target)
    {
        ArgumentNullException.ThrowIfNull(writer);
        WriteLatin1(writer, method);
        writer.Write(" "u8);
        WriteLatin1(writer, target);
        writer.Write(" HTTP/1.1\r\n"u8);
    }

    public static void WriteHeader(IBufferWriter<byte> writer, string name, string? value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        WriteLatin1(writer, name);
        writer.Write(": "u8);
        WriteLatin1(writer, value ?? "");
        writer.Write("\r\n"u8);
    }

    public static void WriteHeader(IBufferWriter<byte> writer, ReadOnlySpan<byte> name, string? value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(name);
        writer.Write(": "u8);
        WriteLatin1(writer, value ?? "");
        writer.Write("\r\n"u8);
    }

    public static void WriteContentLength(IBufferWriter<byte> writer, long length)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write("Content-Length: "u8);
        var span = writer.GetSpan(24);
        Utf8Formatter.TryFormat(length, span, out var written);
        writer.Advance(written);
        writer.Write("\r\n"u8);
    }

    public static void WriteEndOfHead(IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write("\r\n"u8);
    }

    /// <summary>Writes one chunk: hex size, CRLF, data, CRLF.</summary>
    public static void WriteChunk(IBufferWriter<byte> writer, ReadOnlySequence<byte> data)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (data.IsEmpty)
        {
            return;
        }

        var span = writer.GetSpan(20);
        Utf8Formatter.TryFormat(data.Length, span, out var written, new StandardFormat('X'));
        span[written++] = (byte)'\r';
        span[written++] = (byte)'\n';
        writer.Advance(written);
        foreach (var segment in data)
        {
            writer.Write(segment.Span);
        }

        writer.Write("\r\n"u8);
    }

    public static void WriteLastChunk(IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write("0\r\n\r\n"u8);
    }

    private static void WriteLatin1(IBufferWriter<byte> writer, string text)
    {
        if (text.Length == 0)
        {
            return;
        }

        var span = writer.GetSpan(text.Length);
        var written = Encoding.Latin1.GetBytes(text, span);
        writer.Advance(written);
    }
}
