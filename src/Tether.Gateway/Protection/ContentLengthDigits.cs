using System.Text;

namespace Tether.Gateway.Protection;

/// <summary>
/// Makes Kestrel's own Content-Length parse strict (RFC 9110 §8.6: <c>1*DIGIT</c>), over HTTP/1.1 and HTTP/2 alike.
/// </summary>
/// <remarks>
/// With a request header encoding selector of its own, Kestrel decodes a Content-Length value with the encoding the
/// selector gives for that name and then reads it with <c>long.TryParse(NumberStyles.Integer)</c>, which takes a sign,
/// surrounding white space (VT and FF included) and trailing NULs: <c>+5</c>, <c>5\0</c>, <c>\v5</c> all became 5 and
/// were forwarded as <c>Content-Length: 5</c>. This encoding decodes digits as themselves and every other byte as
/// <c>x</c>, which no number parse accepts, so Kestrel refuses the request (HTTP/1.1: 400; HTTP/2: the stream is
/// reset) before Tether sees it, and nothing reaches a backend. No copy or allocation: a byte becomes a char.
/// Every other header keeps Latin-1 (byte-transparent).
/// </remarks>
internal sealed class ContentLengthDigits : Encoding
{
    public static readonly ContentLengthDigits Instance = new();

    /// <summary>Kestrel's RequestHeaderEncodingSelector: this encoding for Content-Length, Latin-1 for the rest.</summary>
    public static Encoding Select(string name) =>
        string.Equals(name, "Content-Length", StringComparison.OrdinalIgnoreCase) ? Instance : Latin1;

    public override int GetCharCount(byte[] bytes, int index, int count) => count;

    public override int GetCharCount(ReadOnlySpan<byte> bytes) => bytes.Length;

    public override int GetChars(byte[] bytes, int byteIndex, int byteCount, char[] chars, int charIndex) =>
        GetChars(bytes.AsSpan(byteIndex, byteCount), chars.AsSpan(charIndex));

    /// <summary>Decodes as many bytes as <paramref name="chars"/> holds: Kestrel reads a value longer than 19 chars as
    /// too long, which its 20-char buffer still shows (where Latin-1 would throw for lack of room).</summary>
    public override int GetChars(ReadOnlySpan<byte> bytes, Span<char> chars)
    {
        var n = Math.Min(bytes.Length, chars.Length);
        for (var i = 0; i < n; i++)
        {
            var b = bytes[i];
            chars[i] = b is >= (byte)'0' and <= (byte)'9' ? (char)b : 'x';
        }

        return n;
    }

    public override int GetByteCount(char[] chars, int index, int count) => count;

    public override int GetBytes(char[] chars, int charIndex, int charCount, byte[] bytes, int byteIndex) =>
        Latin1.GetBytes(chars, charIndex, charCount, bytes, byteIndex);

    public override int GetMaxByteCount(int charCount) => charCount;

    public override int GetMaxCharCount(int byteCount) => byteCount;
}
