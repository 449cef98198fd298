using System.Buffers;
using System.Text;
using System.Buffers.Text;

namespace Tether.Upstream.Http1;

/// <summary>
/// A parsed response head. Owns a copy of the head's bytes so the reader can be advanced before the headers
/// are handed on; reused across responses on one connection (no per-response allocation once warm).
/// </summary>
public sealed class Http1ResponseHead
{
    /// <summary>Largest head accepted from a backend (nginx's proxy_buffer_size is 4–8 KB; we are generous).</summary>
    public const int MaxHeadBytes = 64 * 1024;

    /// <summary>Most header lines accepted.</summary>
    public const int MaxHeaderCount = 256;

    // CTLs other than HTAB, and DEL: never valid in a field value (RFC 9110 §5.5), and Kestrel would refuse them.
    private static readonly SearchValues<byte> s_forbiddenInValues = SearchValues.Create(
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 127]);

    private byte[] _bytes = new byte[1024];
    private int _length;
    private HeaderEntry[] _headers = new HeaderEntry[32];
    private int _headerCount;

    // Names the Connection header nominated as hop-by-hop; ranges into _bytes.
    private Range[] _nominated = new Range[4];
    private int _nominatedCount;

    public int StatusCode { get; private set; }

    /// <summary>1 for HTTP/1.1, 0 for HTTP/1.0.</summary>
    public int MinorVersion { get; private set; }

    public BodyFraming Framing { get; private set; }

    /// <summary>Valid when <see cref="Framing"/> is ContentLength; also set (and 0) for None when the backend sent one.</summary>
    public long ContentLength { get; private set; } = -1;

    /// <summary>The connection must not be reused after this response (Connection: close, or HTTP/1.0 without keep-alive).</summary>
    public bool ConnectionClose { get; private set; }

    /// <summary>The backend's Keep-Alive: timeout=N, if sent.</summary>
    public TimeSpan? KeepAliveTimeout { get; private set; }

    /// <summary>The backend's Keep-Alive: max=M, if sent.</summary>
    public int? KeepAliveMax { get; private set; }

    public int HeaderCount => _headerCount;

    /// <summary>The reason phrase bytes.</summary>
    public ReadOnlySpan<byte> ReasonPhrase => _bytes.AsSpan(_reason);

    private Range _reason;

    public ReadOnlySpan<byte> GetName(int index) => _bytes.AsSpan(_headers[index].Name);

    public ReadOnlySpan<byte> GetValue(int index) => _bytes.AsSpan(_headers[index].Value);

    // Header values repeat from one response to the next on a connection (Server, Content-Type, Date within
    // a second): keep the last few strings and hand them out again when the bytes match.
    private readonly string?[] _valueCache = new string?[8];
    private int _valueCacheNext;

    /// <summary>The value of header <paramref name="index"/> as a string, reusing one made for an earlier response when the bytes match.</summary>
    public string GetValueString(int index)
    {
        var value = GetValue(index);
        foreach (var cached in _valueCache)
        {
            if (cached is not null && cached.Length == value.Length && Latin1Equals(cached, value))
            {
                return cached;
            }
        }

        var created = Encoding.Latin1.GetString(value);
        _valueCache[_valueCacheNext] = created;
        _valueCacheNext = (_valueCacheNext + 1) & (_valueCache.Length - 1);
        return created;
    }

    private static bool Latin1Equals(string text, ReadOnlySpan<byte> bytes)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            if (text[i] != bytes[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Whether header <paramref name="index"/> is end-to-end: not a hop-by-hop header and not nominated by Connection.
    /// For a 101 response the Upgrade header is kept (the client needs it to complete the switch).
    /// </summary>
    public bool IsEndToEnd(int index)
    {
        var entry = _headers[index];
        if (StatusCode == 101 && entry.IsUpgrade)
        {
            // "Connection: Upgrade" nominates it, but the client needs it to complete the switch.
            return true;
        }

        if (entry.HopByHop)
        {
            return false;
        }

        if (_nominatedCount > 0)
        {
            var name = _bytes.AsSpan(entry.Name);
            for (var i = 0; i < _nominatedCount; i++)
            {
                if (Ascii.EqualsIgnoreCase(name, _bytes.AsSpan(_nominated[i])))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>
    /// Parses a complete head (status line through the empty line, CRLFs included). Throws
    /// <see cref="Http1ParseException"/> on anything malformed or ambiguous.
    /// </summary>
    /// <param name="head">The head bytes including the final CRLFCRLF.</param>
    /// <param name="requestWasHead">The request was HEAD: no body whatever the headers say.</param>
    public void Parse(ReadOnlySequence<byte> head, bool requestWasHead)
    {
        Reset();

        // Checked here as well as by the reader, which only looks while the end of the head is still missing:
        // a head that arrives whole in one large read would otherwise pass at any size.
        if (head.Length > MaxHeadBytes)
        {
            throw new Http1ParseException($"response head larger than {MaxHeadBytes} bytes");
        }

        var length = checked((int)head.Length);
        if (_bytes.Length < length)
        {
            _bytes = new byte[Math.Max(length, _bytes.Length * 2)];
        }

        head.CopyTo(_bytes);
        _length = length;
        var span = _bytes.AsSpan(0, _length);

        var lineEnd = span.IndexOf("\r\n"u8);
        ParseStatusLine(span[..lineEnd]);
        var pos = lineEnd + 2;

        long contentLength = -1;
        var chunked = false;
        var transferEncoding = false;
        var keepAlive = false;
        while (true)
        {
            var rest = span[pos..];
            var end = rest.IndexOf("\r\n"u8);
            if (end == 0)
            {
                break;
            }

            if (end < 0)
            {
                throw new Http1ParseException("response head does not end with an empty line");
            }

            ParseHeaderLine(pos, end, ref contentLength, ref chunked, ref transferEncoding, ref keepAlive);
            pos += end + 2;
        }

        if (MinorVersion == 0 && !keepAlive)
        {
            ConnectionClose = true;
        }

        DecideFraming(requestWasHead, contentLength, chunked, transferEncoding);
    }

    private void Reset()
    {
        _headerCount = 0;
        _nominatedCount = 0;
        StatusCode = 0;
        Framing = BodyFraming.None;
        ContentLength = -1;
        ConnectionClose = false;
        KeepAliveTimeout = null;
        KeepAliveMax = null;
    }

    private void ParseStatusLine(ReadOnlySpan<byte> line)
    {
        // HTTP/1.x SP 3DIGIT SP reason
        if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || line[8] != (byte)' ' || line[12..].Length > 0 && line[12] != (byte)' ')
        {
            throw new Http1ParseException($"bad status line '{Printable(line)}'");
        }

        MinorVersion = line[7] switch
        {
            (byte)'1' => 1,
            (byte)'0' => 0,
            _ => throw new Http1ParseException($"unsupported HTTP version in '{Printable(line)}'"),
        };

        var code = line.Slice(9, 3);
        if (!char.IsAsciiDigit((char)code[0]) || !char.IsAsciiDigit((char)code[1]) || !char.IsAsciiDigit((char)code[2]) || code[0] == (byte)'0')
        {
            throw new Http1ParseException($"bad status code in '{Printable(line)}'");
        }

        StatusCode = ((code[0] - '0') * 100) + ((code[1] - '0') * 10) + (code[2] - '0');
        if (StatusCode > 599)
        {
            // RFC 9110 §15: three digits, 100 to 599. A client has no reading of 999; it is a broken backend.
            throw new Http1ParseException($"status code outside 100-599 in '{Printable(line)}'");
        }
        _reason = line.Length > 13 ? new Range(13, line.Length) : new Range(0, 0);
    }

    private void ParseHeaderLine(int start, int length, ref long contentLength, ref bool chunked, ref bool transferEncoding, ref bool keepAlive)
    {
        var line = _bytes.AsSpan(start, length);
        if (line[0] is (byte)' ' or (byte)'\t')
        {
            throw new Http1ParseException("obsolete header line folding");
        }

        var colon = line.IndexOf((byte)':');
        if (colon <= 0)
        {
            throw new Http1ParseException($"header line without a name: '{Printable(line)}'");
        }

        var name = line[..colon];
        if (!HttpTokens.IsToken(name))
        {
            throw new Http1ParseException($"invalid header name '{Printable(name)}'");
        }

        var valueStart = colon + 1;
        var valueEnd = line.Length;
        while (valueStart < valueEnd && line[valueStart] is (byte)' ' or (byte)'\t')
        {
            valueStart++;
        }

        while (valueEnd > valueStart && line[valueEnd - 1] is (byte)' ' or (byte)'\t')
        {
            valueEnd--;
        }

        var value = line[valueStart..valueEnd];
        if (value.ContainsAny(s_forbiddenInValues))
        {
            throw new Http1ParseException($"control character in header '{Printable(name)}'");
        }

        if (_headerCount == MaxHeaderCount)
        {
            throw new Http1ParseException($"more than {MaxHeaderCount} headers");
        }

        var kind = HttpTokens.ClassifyHopByHop(name);
        if (_headerCount == _headers.Length)
        {
            Array.Resize(ref _headers, _headers.Length * 2);
        }

        _headers[_headerCount++] = new HeaderEntry(
            new Range(start, start + colon), new Range(start + valueStart, start + valueEnd), kind != HopByHop.None, kind == HopByHop.Upgrade);

        switch (kind)
        {
            case HopByHop.ContentLength:
                if (!Utf8Parser.TryParse(value, out long parsed, out var consumed) || consumed != value.Length || parsed < 0 || value[0] is (byte)'+' or (byte)'-')
                {
                    throw new Http1ParseException($"invalid Content-Length '{Printable(value)}'");
                }

                if (contentLength >= 0 && contentLength != parsed)
                {
                    throw new Http1ParseException($"two different Content-Length values ({contentLength} and {parsed})");
                }

                contentLength = parsed;
                break;
            case HopByHop.TransferEncoding:
                transferEncoding = true;
                chunked = LastTokenIsChunked(value);
                break;
            case HopByHop.Connection:
                ParseConnectionTokens(start + valueStart, value, ref keepAlive);
                break;
            case HopByHop.KeepAlive:
                ParseKeepAlive(value);
                break;
        }
    }

    private void ParseConnectionTokens(int valueOffset, ReadOnlySpan<byte> value, ref bool keepAlive)
    {
        var pos = 0;
        while (pos < value.Length)
        {
            var comma = value[pos..].IndexOf((byte)',');
            var end = comma < 0 ? value.Length : pos + comma;
            var tokenStart = pos;
            var tokenEnd = end;
            while (tokenStart < tokenEnd && value[tokenStart] is (byte)' ' or (byte)'\t')
            {
                tokenStart++;
            }

            while (tokenEnd > tokenStart && value[tokenEnd - 1] is (byte)' ' or (byte)'\t')
            {
                tokenEnd--;
            }

            var token = value[tokenStart..tokenEnd];
            if (Ascii.EqualsIgnoreCase(token, "close"u8))
            {
                ConnectionClose = true;
            }
            else if (Ascii.EqualsIgnoreCase(token, "keep-alive"u8))
            {
                keepAlive = true;
            }
            else if (token.Length > 0)
            {
                if (_nominatedCount == _nominated.Length)
                {
                    Array.Resize(ref _nominated, _nominated.Length * 2);
                }

                _nominated[_nominatedCount++] = new Range(valueOffset + tokenStart, valueOffset + tokenEnd);
            }

            pos = end + 1;
        }
    }

    // "timeout=5, max=100". Unknown parameters are ignored; malformed numbers are ignored (advisory header).
    private void ParseKeepAlive(ReadOnlySpan<byte> value)
    {
        foreach (var part in value.Split((byte)','))
        {
            var item = value[part].Trim((byte)' ');
            var eq = item.IndexOf((byte)'=');
            if (eq <= 0)
            {
                continue;
            }

            var key = item[..eq].Trim((byte)' ');
            var number = item[(eq + 1)..].Trim((byte)' ');
            if (!Utf8Parser.TryParse(number, out int n, out var used) || used != number.Length || n < 0)
            {
                continue;
            }

            if (Ascii.EqualsIgnoreCase(key, "timeout"u8))
            {
                KeepAliveTimeout = TimeSpan.FromSeconds(n);
            }
            else if (Ascii.EqualsIgnoreCase(key, "max"u8))
            {
                KeepAliveMax = n;
            }
        }
    }

    private static bool LastTokenIsChunked(ReadOnlySpan<byte> value)
    {
        var lastComma = value.LastIndexOf((byte)',');
        var last = value[(lastComma + 1)..].Trim((byte)' ').Trim((byte)'\t');
        return Ascii.EqualsIgnoreCase(last, "chunked"u8);
    }

    private void DecideFraming(bool requestWasHead, long contentLength, bool chunked, bool transferEncoding)
    {
        if (transferEncoding && contentLength >= 0)
        {
            // RFC 9112 §6.3 lets a recipient drop Content-Length here; a proxy that does so is one half of a
            // smuggling pair. We refuse the response and never reuse the connection.
            throw new Http1ParseException("both Transfer-Encoding and Content-Length");
        }

        ContentLength = contentLength;
        if (StatusCode == 205 && !requestWasHead && (contentLength > 0 || transferEncoding))
        {
            // RFC 9110 §15.3.6: a 205 has no content. One that frames a body anyway cannot be passed on (the client
            // is told there is none) and its bytes cannot be left for the next response: refused, never reused.
            throw new Http1ParseException("205 Reset Content with a body");
        }

        if (requestWasHead || StatusCode is < 200 or 204 or 205 or 304)
        {
            Framing = BodyFraming.None;
            return;
        }

        if (transferEncoding)
        {
            Framing = chunked ? BodyFraming.Chunked : BodyFraming.CloseDelimited;
            if (!chunked)
            {
                ConnectionClose = true;
            }

            return;
        }

        if (contentLength >= 0)
        {
            Framing = contentLength == 0 ? BodyFraming.None : BodyFraming.ContentLength;
            return;
        }

        Framing = BodyFraming.CloseDelimited;
        ConnectionClose = true;
    }

    internal static string Printable(ReadOnlySpan<byte> bytes)
    {
        var shown = bytes.Length > 80 ? bytes[..80] : bytes;
        var chars = new char[shown.Length];
        for (var i = 0; i < shown.Length; i++)
        {
            var b = shown[i];
            chars[i] = b is >= 0x20 and < 0x7f ? (char)b : '?';
        }

        return bytes.Length > 80 ? new string(chars) + "…" : new string(chars);
    }

    private readonly record struct HeaderEntry(Range Name, Range Value, bool HopByHop, bool IsUpgrade);
}
