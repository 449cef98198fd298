using System.Globalization;

namespace Tether.Configuration;

/// <summary>
/// Byte sizes as nginx writes them ⇄ a number of bytes: a whole number, optionally followed by <c>k</c>, <c>m</c> or
/// <c>g</c> (KiB, MiB, GiB; either case): <c>"1m"</c>, <c>"512k"</c>, <c>"1048576"</c>, or a JSON number of bytes.
/// </summary>
public static class Sizes
{
    /// <summary>Parse "1m", "512k", "2g", "1024", "0". Rejects negatives, decimals and other units.</summary>
    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        var span = text.AsSpan().Trim();
        if (span.IsEmpty)
        {
            return false;
        }

        var shift = char.ToLowerInvariant(span[^1]) switch
        {
            'k' => 10,
            'm' => 20,
            'g' => 30,
            _ => 0,
        };
        if (shift != 0)
        {
            span = span[..^1];
        }

        if (span.IsEmpty || !long.TryParse(span, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number > long.MaxValue >> shift)
        {
            return false;
        }

        bytes = number << shift;
        return true;
    }

    /// <summary>The shortest exact form: 1048576 → "1m", 1536 → "1536", 0 → "0".</summary>
    public static string Format(long bytes)
    {
        foreach (var (suffix, shift) in (ReadOnlySpan<(string, int)>)[("g", 30), ("m", 20), ("k", 10)])
        {
            if (bytes != 0 && bytes % (1L << shift) == 0)
            {
                return (bytes >> shift).ToString(CultureInfo.InvariantCulture) + suffix;
            }
        }

        return bytes.ToString(CultureInfo.InvariantCulture);
    }
}
