using System.Globalization;
using System.Text;

namespace Tether.Configuration;

/// <summary>
/// "500ms", "65s", "5m", "1h", "1h30m" ⇄ <see cref="TimeSpan"/>.
/// A duration is one or more whole-number parts, each with a unit, largest unit first
/// (h, m, s, ms), each unit at most once. "0" alone is allowed; any other bare number is not,
/// because "65" could mean seconds (nginx) or milliseconds (HAProxy).
/// </summary>
public static class Durations
{
    /// <summary>The word that turns off an optional duration (maxLifetime, maxConnectionLifetime, chain timeouts).</summary>
    public const string Off = "off";

    // Largest unit first: the order a duration must be written in and the order Format writes.
    private static readonly (string Suffix, long Ticks)[] _units =
    [
        ("h", TimeSpan.TicksPerHour),
        ("m", TimeSpan.TicksPerMinute),
        ("s", TimeSpan.TicksPerSecond),
        ("ms", TimeSpan.TicksPerMillisecond),
    ];

    /// <summary>Parse "500ms", "65s", "5m", "1h", "1h30m", "0", "0s". Rejects negatives, bare numbers
    /// other than "0", "off" (see <see cref="TryParseOptional"/>) and anything else.</summary>
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var span = text.AsSpan().Trim();
        if (span is "0")
        {
            return true;
        }

        long totalTicks = 0;
        var nextUnit = 0; // index into _units: a part may only use this unit or a smaller one
        while (!span.IsEmpty)
        {
            var digits = 0;
            while (digits < span.Length && char.IsAsciiDigit(span[digits]))
            {
                digits++;
            }

            if (digits == 0 || !long.TryParse(span[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            {
                return false;
            }

            span = span[digits..];
            var unit = MatchUnit(span, nextUnit);
            if (unit < 0)
            {
                return false;
            }

            span = span[_units[unit].Suffix.Length..];
            nextUnit = unit + 1;
            try
            {
                totalTicks = checked(totalTicks + checked(number * _units[unit].Ticks));
            }
            catch (OverflowException)
            {
                return false;
            }
        }

        value = TimeSpan.FromTicks(totalTicks);
        return true;
    }

    /// <summary>Like <see cref="TryParse"/>, and also accepts "off" (any case), which gives null.</summary>
    public static bool TryParseOptional(string? text, out TimeSpan? value)
    {
        if (text is not null && text.Trim().Equals(Off, StringComparison.OrdinalIgnoreCase))
        {
            value = null;
            return true;
        }

        var ok = TryParse(text, out var parsed);
        value = ok ? parsed : null;
        return ok;
    }

    /// <summary>The shortest string <see cref="TryParse"/> reads back as the same value: "1m30s", "500ms", "0s".
    /// Sub-millisecond remainders are dropped (config durations are whole milliseconds).</summary>
    public static string Format(TimeSpan value)
    {
        if (value < TimeSpan.Zero)
        {
            return "-" + Format(value.Duration());
        }

        var remaining = value.Ticks;
        var builder = new StringBuilder();
        foreach (var (suffix, ticks) in _units)
        {
            var count = remaining / ticks;
            if (count > 0)
            {
                builder.Append(count.ToString(CultureInfo.InvariantCulture)).Append(suffix);
                remaining -= count * ticks;
            }
        }

        return builder.Length == 0 ? "0s" : builder.ToString();
    }

    /// <summary>Null → "off", else <see cref="Format(TimeSpan)"/>.</summary>
    public static string Format(TimeSpan? value) => value is { } v ? Format(v) : Off;

    // "ms" must be tried before "m" so that "500ms" is not read as 500 minutes followed by "s".
    private static int MatchUnit(ReadOnlySpan<char> rest, int firstAllowed)
    {
        var unit = rest.StartsWith("ms", StringComparison.Ordinal) ? 3
            : rest.StartsWith("h", StringComparison.Ordinal) ? 0
            : rest.StartsWith("m", StringComparison.Ordinal) ? 1
            : rest.StartsWith("s", StringComparison.Ordinal) ? 2
            : -1;
        return unit >= firstAllowed ? unit : -1;
    }
}
