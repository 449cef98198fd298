using System.Buffers;
using System.Buffers.Text;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Tether.Gateway.Http1;

/// <summary>The limits a request head is parsed under (downstream.maxRequestLineSize and friends).</summary>
internal readonly record struct Http1Limits(int MaxRequestLineSize, int MaxRequestHeadersSize, int MaxRequestHeaderCount);

/// <summary>
/// The strings of the last heads parsed, by slot (0: the target; 1..16: the header lines in order): a value equal
/// byte for byte to the last one in its slot is reused instead of allocated, as Kestrel reuses its header strings. A
/// client sends the same headers in the same order request after request, so most of a head's strings are hits.
/// Only ASCII values are compared (anything else is always new); the strings are immutable, so sharing them is safe.
/// </summary>
internal sealed class Http1StringCache
{
    public const int TargetSlot = 0;

    private readonly string?[] _recent = new string?[17];

    public string Get(int slot, ReadOnlySpan<byte> bytes)
    {
        if ((uint)slot >= (uint)_recent.Length)
        {
            return Encoding.Latin1.GetString(bytes);
        }

        if (_recent[slot] is { } last && last.Length == bytes.Length && Ascii.Equals(bytes, last))
        {
            return last;
        }

        // Latin-1 (byte-transparent) for header values; the target is visible ASCII, which Latin-1 decodes the same.
        return _recent[slot] = Encoding.Latin1.GetString(bytes);
    }
}

/// <summary>What the parser made of one request head. Reused for every request of a connection.</summary>
internal sealed class Http1RequestHead
{
    public string Method = "";

    /// <summary>The request target as the client wrote it.</summary>
    public string RawTarget = "";

    public string Path = "";

    public string Query = "";

    /// <summary>1 for HTTP/1.1, 0 for HTTP/1.0.</summary>
    public int VersionMinor;

    /// <summary>The body's length; -1 when there is none or it is chunked.</summary>
    public long ContentLength = -1;

    public bool Chunked;

    /// <summary>Whether the client lets the connection stay open after this exchange.</summary>
    public bool KeepAlive;

    public bool ExpectContinue;

    /// <summary>Connection lists "upgrade" (with an Upgrade header, HTTP/1.1 and no body: an upgradable request).</summary>
    public bool ConnectionUpgrade;

    /// <summary>The status of a refusal (400, 414, 431, 417, 505, 501), 0 when the head is good.</summary>
    public int ErrorStatus;

    public string? ErrorReason;

    /// <summary>The strings of recent heads to reuse (null: every string is new); set while a request is in hand.</summary>
    public Http1StringCache? Strings;

    public bool HasBody => Chunked || ContentLength > 0;

    public void Reset()
    {
        Method = RawTarget = Path = Query = "";
        VersionMinor = 0;
        ContentLength = -1;
        Chunked = KeepAlive = ExpectContinue = ConnectionUpgrade = false;
        ErrorStatus = 0;
        ErrorReason = null;
    }
}

/// <summary>
/// The one place that decides what a request head means and how its body is framed (RFC 9112). Strict: whatever
/// two readers could take two ways is refused (400 and the connection closed), so that no backend behind Tether
/// can read a request differently from Tether (request smuggling). The rules (docs/security.md):
/// <list type="bullet">
/// <item>lines end in CRLF; a bare LF or a bare CR anywhere is refused; no empty lines before the request line;</item>
/// <item>request line: method a token, one SP, a target of visible ASCII, one SP, "HTTP/1.1" or "HTTP/1.0"
/// (another HTTP version: 505); origin-form, absolute-form (http/https), authority-form for CONNECT only,
/// "*" for OPTIONS only; longer than maxRequestLineSize: 414;</item>
/// <item>header lines: a token name, a colon right after it (no space), a value of visible ASCII, SP, HTAB and
/// obs-text, with optional whitespace trimmed; obs-fold refused; more than maxRequestHeaderCount lines or more
/// than maxRequestHeadersSize bytes: 431;</item>
/// <item>HTTP/1.1: exactly one Host, a valid authority; in absolute-form it must match the target's;</item>
/// <item>Content-Length: one field line of 1*DIGIT (no list, not even of equal values), at most 18 digits;</item>
/// <item>Transfer-Encoding: one field line reading exactly "chunked", HTTP/1.1 only, never with Content-Length;</item>
/// <item>Expect: only "100-continue" (anything else: 417);</item>
/// <item>every header a Connection header nominates (other than close, keep-alive and upgrade) is removed.</item>
/// </list>
/// </summary>
internal static class Http1RequestParser
{
    private static readonly SearchValues<byte> _tchar =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    // field-value characters: VCHAR, SP, HTAB, obs-text (RFC 9110 §5.5). Not CR, LF, NUL or other controls.
    private static readonly SearchValues<byte> _fieldValue = SearchValues.Create(FieldValueBytes());

    // request-target: visible ASCII only (no SP, no controls, no obs-text).
    private static readonly SearchValues<byte> _targetChar = SearchValues.Create(Range(0x21, 0x7E));

    // The characters of a Host value: DNS names, IPv4, IP-literals and a port. Narrower than RFC 3986's reg-name
    // (no sub-delims, no pct-encoding), as Kestrel is (the differential test found Kestrel refusing those).
    private static readonly SearchValues<byte> _hostChar =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:[]"u8);

    /// <summary>
    /// Parses the head at the start of <paramref name="data"/>. Returns false while it is incomplete (and within
    /// the limits); true with <paramref name="consumed"/> set once it is whole, or with head.ErrorStatus set
    /// when it is refused. Headers go into <paramref name="headers"/>.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> data, in Http1Limits limits, Http1RequestHead head, IHeaderDictionary headers, out int consumed)
    {
        consumed = 0;
        head.Reset();
        headers.Clear();

        // Parsed only once the head is whole (it is parsed from its start each time): until then only the limits.
        var end = data.IndexOf("\r\n\r\n"u8);
        var lineEnd = data.IndexOf((byte)'\n');
        if (end < 0)
        {
            if ((lineEnd < 0 ? data.Length : lineEnd) > limits.MaxRequestLineSize + 1)
            {
                return Fail(head, StatusCodes.Status414UriTooLong, "the request line is longer than downstream.maxRequestLineSize");
            }

            if (data.Length > limits.MaxRequestLineSize + limits.MaxRequestHeadersSize + 4)
            {
                return Fail(head, StatusCodes.Status431RequestHeaderFieldsTooLarge, "the request headers are larger than downstream.maxRequestHeadersSize");
            }

            // A bare LF cannot be part of a head that will be accepted: refused as soon as it is seen.
            return lineEnd >= 0 && (lineEnd == 0 || data[lineEnd - 1] != '\r') && Fail(head, 400, "a line that does not end in CRLF");
        }

        data = data[..(end + 4)];
        if (lineEnd > limits.MaxRequestLineSize + 1)
        {
            return Fail(head, StatusCodes.Status414UriTooLong, "the request line is longer than downstream.maxRequestLineSize");
        }

        if (lineEnd == 0 || data[lineEnd - 1] != '\r')
        {
            return Fail(head, 400, "a line that does not end in CRLF");
        }

        if (data[..(lineEnd - 1)].Contains((byte)'\r'))
        {
            return Fail(head, 400, "a bare CR in the request line");
        }

        if (!ParseRequestLine(data[..(lineEnd - 1)], head))
        {
            return true;
        }

        var position = lineEnd + 1;
        var headerBytes = 0;
        var count = 0;
        var hostCount = 0;
        var lengthCount = 0;
        var teCount = 0;
        string? connection = null;
        while (true)
        {
            var rest = data[position..];
            var nl = rest.IndexOf((byte)'\n');
            if (nl == 0 || rest[nl - 1] != '\r')
            {
                return Fail(head, 400, "a line that does not end in CRLF");
            }

            var line = rest[..(nl - 1)];
            position += nl + 1;
            if (line.Contains((byte)'\r'))
            {
                return Fail(head, 400, "a bare CR in a header line");
            }

            if (line.IsEmpty)
            {
                break;
            }

            headerBytes += nl + 1;
            if (headerBytes > limits.MaxRequestHeadersSize)
            {
                return Fail(head, StatusCodes.Status431RequestHeaderFieldsTooLarge, "the request headers are larger than downstream.maxRequestHeadersSize");
            }

            if (++count > limits.MaxRequestHeaderCount)
            {
                return Fail(head, StatusCodes.Status431RequestHeaderFieldsTooLarge, "more request headers than downstream.maxRequestHeaderCount");
            }

            if (line[0] is (byte)' ' or (byte)'\t')
            {
                return Fail(head, 400, "a folded header line (obs-fold)");
            }

            var colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                return Fail(head, 400, "a header line without a name and a colon");
            }

            var nameBytes = line[..colon];
            if (nameBytes.ContainsAnyExcept(_tchar))
            {
                return Fail(head, 400, "a header name that is not a token (no space before the colon)");
            }

            var valueBytes = line[(colon + 1)..].Trim(" \t"u8);
            if (valueBytes.ContainsAnyExcept(_fieldValue))
            {
                return Fail(head, 400, "a control character in a header value");
            }

            var name = HeaderName(nameBytes);
            var value = head.Strings is { } strings ? strings.Get(count, valueBytes) : Encoding.Latin1.GetString(valueBytes);
            switch (name)
            {
                case "Host":
                    hostCount++;
                    if (!IsValidHost(valueBytes))
                    {
                        return Fail(head, 400, "an invalid Host header");
                    }

                    break;
                case "Content-Length":
                    lengthCount++;
                    if (valueBytes.IsEmpty || valueBytes.Length > 18 || valueBytes.ContainsAnyExceptInRange((byte)'0', (byte)'9')
                        || !Utf8Parser.TryParse(valueBytes, out long length, out _))
                    {
                        return Fail(head, 400, "a Content-Length that is not one number");
                    }

                    head.ContentLength = length;
                    break;
                case "Transfer-Encoding":
                    teCount++;
                    if (!Ascii.EqualsIgnoreCase(valueBytes, "chunked"u8))
                    {
                        return Fail(head, 400, "a Transfer-Encoding other than exactly \"chunked\"");
                    }

                    head.Chunked = true;
                    break;
                case "Connection":
                    connection = connection is null ? value : connection + "," + value;
                    break;
                case "Expect":
                    if (!Ascii.EqualsIgnoreCase(valueBytes, "100-continue"u8))
                    {
                        return Fail(head, StatusCodes.Status417ExpectationFailed, "an Expect other than 100-continue");
                    }

                    head.ExpectContinue = head.VersionMinor == 1;
                    break;
            }

            // Not Append: through the indexer an empty value ("X-Debug:") would be dropped, and Kestrel keeps it.
            if (headers.TryGetValue(name, out var existing))
            {
                headers[name] = StringValues.Concat(existing, value);
            }
            else
            {
                // The name is not there yet (checked above), so Add cannot throw; it is the one call that keeps "".
#pragma warning disable ASP0019
                headers.Add(name, value);
#pragma warning restore ASP0019
            }
        }

        if (lengthCount > 1)
        {
            return Fail(head, 400, "more than one Content-Length");
        }

        if (teCount > 1)
        {
            return Fail(head, 400, "more than one Transfer-Encoding");
        }

        if (head.Chunked && (lengthCount > 0 || head.VersionMinor == 0))
        {
            return Fail(head, 400, head.VersionMinor == 0 ? "Transfer-Encoding in an HTTP/1.0 request" : "both Content-Length and Transfer-Encoding");
        }

        if (head.VersionMinor == 1 && hostCount != 1)
        {
            return Fail(head, 400, hostCount == 0 ? "no Host header" : "more than one Host header");
        }

        if (hostCount > 1)
        {
            return Fail(head, 400, "more than one Host header");
        }

        if (head.RawTarget[0] != '/' && head.RawTarget != "*" && !AuthorityMatches(head, headers))
        {
            return true;
        }

        head.KeepAlive = head.VersionMinor == 1;
        if (connection is not null && !ApplyConnection(connection, head, headers))
        {
            return true;
        }

        consumed = position;
        return true;
    }

    private static bool ParseRequestLine(ReadOnlySpan<byte> line, Http1RequestHead head)
    {
        var sp1 = line.IndexOf((byte)' ');
        if (sp1 <= 0 || line[..sp1].ContainsAnyExcept(_tchar))
        {
            return Fail(head, 400, "a request line whose method is not a token followed by one space") && false;
        }

        var afterMethod = line[(sp1 + 1)..];
        var sp2 = afterMethod.IndexOf((byte)' ');
        if (sp2 <= 0)
        {
            return Fail(head, 400, "a request line without a target and a version") && false;
        }

        var target = afterMethod[..sp2];
        var version = afterMethod[(sp2 + 1)..];
        if (target.ContainsAnyExcept(_targetChar))
        {
            return Fail(head, 400, "a request target with a space, a control or a non-ASCII byte") && false;
        }

        if (version.SequenceEqual("HTTP/1.1"u8))
        {
            head.VersionMinor = 1;
        }
        else if (version.SequenceEqual("HTTP/1.0"u8))
        {
            head.VersionMinor = 0;
        }
        else if (version.Length == 8 && version.StartsWith("HTTP/"u8) && char.IsAsciiDigit((char)version[5]) && version[6] == '.' && char.IsAsciiDigit((char)version[7]))
        {
            return Fail(head, StatusCodes.Status505HttpVersionNotsupported, "an HTTP version other than 1.0 and 1.1") && false;
        }
        else
        {
            return Fail(head, 400, "a request line that does not end in HTTP/1.1 or HTTP/1.0") && false;
        }

        head.Method = Method(line[..sp1]);
        head.RawTarget = head.Strings is { } strings ? strings.Get(Http1StringCache.TargetSlot, target) : Encoding.ASCII.GetString(target);
        var isConnect = head.Method == HttpMethods.Connect;
        if (target[0] == '/')
        {
            if (isConnect)
            {
                return Fail(head, 400, "CONNECT with an origin-form target") && false;
            }

            SplitPath(head.RawTarget, head);
            return true;
        }

        if (target.Length == 1 && target[0] == '*')
        {
            if (head.Method != HttpMethods.Options)
            {
                return Fail(head, 400, "the asterisk target with a method other than OPTIONS") && false;
            }

            head.Path = "";
            head.Query = "";
            return true;
        }

        if (isConnect)
        {
            // authority-form: host:port, nothing else.
            var colon = target.LastIndexOf((byte)':');
            if (colon <= 0 || colon == target.Length - 1 || target[(colon + 1)..].ContainsAnyExceptInRange((byte)'0', (byte)'9') || !IsValidHost(target))
            {
                return Fail(head, 400, "a CONNECT target that is not host:port") && false;
            }

            head.Path = "";
            head.Query = "";
            return true;
        }

        if (StartsWithScheme(target, out var schemeLength))
        {
            var rest = head.RawTarget.AsSpan(schemeLength);
            var slash = rest.IndexOfAny('/', '?');
            var authority = slash < 0 ? rest : rest[..slash];
            if (authority.IsEmpty || authority.Contains('@'))
            {
                return Fail(head, 400, "an absolute-form target without a host, or with user info") && false;
            }

            var path = slash < 0 ? "/" : rest[slash..].ToString();
            SplitPath(path[0] == '?' ? "/" + path : path, head);
            return true;
        }

        return Fail(head, 400, "a request target that is neither a path, an absolute URI, host:port for CONNECT nor * for OPTIONS") && false;
    }

    private static bool StartsWithScheme(ReadOnlySpan<byte> target, out int length)
    {
        // Lower case only, as Kestrel reads it.
        length = target.StartsWith("http://"u8) ? 7 : target.StartsWith("https://"u8) ? 8 : 0;
        return length > 0;
    }

    private static void SplitPath(string target, Http1RequestHead head)
    {
        var q = target.IndexOf('?', StringComparison.Ordinal);
        head.Path = q < 0 ? target : target[..q];
        head.Query = q < 0 ? "" : target[q..];
    }

    // absolute-form: the target's authority is the request's; Host must say the same (as Kestrel requires).
    private static bool AuthorityMatches(Http1RequestHead head, IHeaderDictionary headers)
    {
        if (head.Method == HttpMethods.Connect)
        {
            return true;
        }

        var target = head.RawTarget.AsSpan(head.RawTarget.IndexOf("//", StringComparison.Ordinal) + 2);
        var end = target.IndexOfAny('/', '?');
        var authority = end < 0 ? target : target[..end];
        var host = headers.Host.ToString();
        // Byte for byte, as Kestrel compares them.
        if (!authority.Equals(host, StringComparison.Ordinal))
        {
            return Fail(head, 400, "an absolute-form target whose authority differs from the Host header") && false;
        }

        return true;
    }

    // RFC 9110 §7.6.1: the listed options are hop-by-hop; a proxy removes every field they name.
    private static bool ApplyConnection(string connection, Http1RequestHead head, IHeaderDictionary headers)
    {
        var rest = connection.AsSpan();
        var close = false;
        var keepAlive = false;
        var upgrade = false;
        while (!rest.IsEmpty)
        {
            var comma = rest.IndexOf(',');
            var option = (comma < 0 ? rest : rest[..comma]).Trim(" \t");
            rest = comma < 0 ? default : rest[(comma + 1)..];
            if (option.IsEmpty)
            {
                continue;
            }

            if (option.ContainsAnyExcept(TokenChars))
            {
                return Fail(head, 400, "a Connection option that is not a token") && false;
            }

            if (option.Equals("close", StringComparison.OrdinalIgnoreCase))
            {
                close = true;
            }
            else if (option.Equals("keep-alive", StringComparison.OrdinalIgnoreCase))
            {
                keepAlive = true;
            }
            else if (option.Equals("upgrade", StringComparison.OrdinalIgnoreCase))
            {
                upgrade = true;
            }
            else
            {
                // Framing fields are decided above and never removed this way (a client cannot hide its Content-Length).
                var name = option.ToString();
                if (!name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) && !name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)
                    && !name.Equals("Host", StringComparison.OrdinalIgnoreCase))
                {
                    headers.Remove(name);
                }
            }
        }

        head.KeepAlive = !close && (head.VersionMinor == 1 || keepAlive);

        // As Kestrel's IsUpgradableRequest: HTTP/1.1, "Connection: upgrade" and an Upgrade header. A request with a
        // body is not taken as one (its body and the tunnel's bytes could not be told apart): it goes on as plain HTTP.
        head.ConnectionUpgrade = upgrade && head.VersionMinor == 1 && !head.HasBody && headers.ContainsKey("Upgrade");
        return true;
    }

    private static readonly SearchValues<char> TokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    private static bool IsValidHost(ReadOnlySpan<byte> host)
    {
        if (host.ContainsAnyExcept(_hostChar))
        {
            return false;
        }

        if (host.IsEmpty)
        {
            return true;
        }

        if (host[0] == '[')
        {
            var close = host.IndexOf((byte)']');
            if (close < 0 || !IPAddress.TryParse(Encoding.ASCII.GetString(host[1..close]), out var literal)
                || literal.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6 || literal.Equals(IPAddress.IPv6Any))
            {
                return false;
            }

            var after = host[(close + 1)..];
            return after.IsEmpty || (after[0] == ':' && !after[1..].ContainsAnyExceptInRange((byte)'0', (byte)'9'));
        }

        if (host.Contains((byte)'[') || host.Contains((byte)']'))
        {
            return false;
        }

        var colon = host.IndexOf((byte)':');
        return colon < 0 || (colon > 0 && !host[(colon + 1)..].ContainsAnyExceptInRange((byte)'0', (byte)'9'));
    }

    private static bool Fail(Http1RequestHead head, int status, string reason)
    {
        head.ErrorStatus = status;
        head.ErrorReason = reason;
        return true;
    }

    // Interned names for the common methods and headers: steady traffic allocates no name strings.
    private static string Method(ReadOnlySpan<byte> method) => method.Length switch
    {
        3 when method.SequenceEqual("GET"u8) => HttpMethods.Get,
        3 when method.SequenceEqual("PUT"u8) => HttpMethods.Put,
        4 when method.SequenceEqual("POST"u8) => HttpMethods.Post,
        4 when method.SequenceEqual("HEAD"u8) => HttpMethods.Head,
        5 when method.SequenceEqual("PATCH"u8) => HttpMethods.Patch,
        5 when method.SequenceEqual("TRACE"u8) => HttpMethods.Trace,
        6 when method.SequenceEqual("DELETE"u8) => HttpMethods.Delete,
        7 when method.SequenceEqual("OPTIONS"u8) => HttpMethods.Options,
        7 when method.SequenceEqual("CONNECT"u8) => HttpMethods.Connect,
        _ => Encoding.ASCII.GetString(method),
    };

    private static readonly string[] _knownHeaders =
    [
        "Host", "Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control", "Connection",
        "Content-Length", "Content-Type", "Cookie", "Expect", "If-Modified-Since", "If-None-Match", "Origin",
        "Referer", "Transfer-Encoding", "Upgrade", "User-Agent", "X-Forwarded-For", "X-Forwarded-Proto",
        "X-Forwarded-Host", "X-Request-Id", "Keep-Alive", "TE", "Trailer", "Proxy-Connection", "traceparent",
    ];

    private static string HeaderName(ReadOnlySpan<byte> name)
    {
        foreach (var known in _knownHeaders)
        {
            if (known.Length == name.Length && Ascii.EqualsIgnoreCase(name, known))
            {
                return known;
            }
        }

        return Encoding.ASCII.GetString(name);
    }

    private static byte[] FieldValueBytes()
    {
        var bytes = new List<byte> { (byte)'\t' };
        for (var b = 0x20; b <= 0xFF; b++)
        {
            if (b != 0x7F)
            {
                bytes.Add((byte)b);
            }
        }

        return [.. bytes];
    }

    private static byte[] Range(int first, int last)
    {
        var bytes = new byte[last - first + 1];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(first + i);
        }

        return bytes;
    }
}
