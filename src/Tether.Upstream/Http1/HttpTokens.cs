using System.Buffers;
using System.Text;

namespace Tether.Upstream.Http1;

internal enum HopByHop
{
    None,
    Connection,
    KeepAlive,
    ProxyConnection,
    TransferEncoding,
    Te,
    Trailer,
    Upgrade,
    ContentLength,
}

/// <summary>Byte-level HTTP token rules shared by the request writer and the response parser.</summary>
public static class HttpTokens
{
    // RFC 9110 tchar: "!#$%&'*+-.^_`|~" / DIGIT / ALPHA
    private const string TChars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    private static readonly SearchValues<byte> s_tchar = SearchValues.Create(Encoding.ASCII.GetBytes(TChars));
    private static readonly SearchValues<char> s_tcharChars = SearchValues.Create(TChars);

    public static bool IsToken(ReadOnlySpan<byte> name) => name.Length > 0 && !name.ContainsAnyExcept(s_tchar);

    /// <summary>The same rule for names and methods held as strings (a request as Kestrel parsed it).</summary>
    public static bool IsToken(ReadOnlySpan<char> name) => name.Length > 0 && !name.ContainsAnyExcept(s_tcharChars);

    /// <summary>
    /// Headers that describe one hop and never cross a proxy (RFC 9110 §7.6.1), plus Content-Length, which
    /// the proxy re-derives from the framing it chose.
    /// </summary>
    internal static HopByHop ClassifyHopByHop(ReadOnlySpan<byte> name) => name.Length switch
    {
        2 when Ascii.EqualsIgnoreCase(name, "te"u8) => HopByHop.Te,
        7 when Ascii.EqualsIgnoreCase(name, "upgrade"u8) => HopByHop.Upgrade,
        7 when Ascii.EqualsIgnoreCase(name, "trailer"u8) => HopByHop.Trailer,
        10 when Ascii.EqualsIgnoreCase(name, "connection"u8) => HopByHop.Connection,
        10 when Ascii.EqualsIgnoreCase(name, "keep-alive"u8) => HopByHop.KeepAlive,
        14 when Ascii.EqualsIgnoreCase(name, "content-length"u8) => HopByHop.ContentLength,
        16 when Ascii.EqualsIgnoreCase(name, "proxy-connection"u8) => HopByHop.ProxyConnection,
        17 when Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8) => HopByHop.TransferEncoding,
        _ => HopByHop.None,
    };

    /// <summary>The same classification for header names held as strings (request headers from Kestrel).</summary>
    public static bool IsHopByHop(string name) => name.Length switch
    {
        2 => string.Equals(name, "TE", StringComparison.OrdinalIgnoreCase),
        7 => string.Equals(name, "Upgrade", StringComparison.OrdinalIgnoreCase) || string.Equals(name, "Trailer", StringComparison.OrdinalIgnoreCase),
        10 => string.Equals(name, "Connection", StringComparison.OrdinalIgnoreCase) || string.Equals(name, "Keep-Alive", StringComparison.OrdinalIgnoreCase),
        16 => string.Equals(name, "Proxy-Connection", StringComparison.OrdinalIgnoreCase),
        17 => string.Equals(name, "Transfer-Encoding", StringComparison.OrdinalIgnoreCase),
        _ => false,
    };
}
