using System.Globalization;

namespace Tether.Configuration;

/// <summary>An HTTP status range such as "200-399" or "204" (healthCheck.active.expectedStatus).</summary>
public readonly record struct StatusRange(int Min, int Max)
{
    public bool Contains(int status) => status >= Min && status <= Max;

    /// <summary>"200-399", "200"; each status 100–599, the first not above the second.</summary>
    public static bool TryParse(string? text, out StatusRange range)
    {
        range = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var span = text.AsSpan().Trim();
        var dash = span.IndexOf('-');
        var first = dash < 0 ? span : span[..dash].Trim();
        var second = dash < 0 ? span : span[(dash + 1)..].Trim();
        if (!TryStatus(first, out var min) || !TryStatus(second, out var max) || min > max)
        {
            return false;
        }

        range = new StatusRange(min, max);
        return true;
    }

    public override string ToString() => Min == Max
        ? Min.ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{Min}-{Max}");

    private static bool TryStatus(ReadOnlySpan<char> text, out int status) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out status) && status is >= 100 and <= 599;
}

public enum HashKeySource
{
    ClientIp,
    Header,
    Cookie,
}

/// <summary>What consistentHash hashes: "clientIp", "header:NAME" or "cookie:NAME" (consistentHash.key).</summary>
public readonly record struct HashKey(HashKeySource Source, string Name)
{
    public const string ClientIpText = "clientIp";
    public const string HeaderPrefix = "header:";
    public const string CookiePrefix = "cookie:";

    public static bool TryParse(string? text, out HashKey key)
    {
        key = default;
        var value = text?.Trim() ?? "";
        if (value.Equals(ClientIpText, StringComparison.OrdinalIgnoreCase))
        {
            key = new HashKey(HashKeySource.ClientIp, "");
            return true;
        }

        if (TryNamed(value, HeaderPrefix, out var name))
        {
            key = new HashKey(HashKeySource.Header, name);
            return true;
        }

        if (TryNamed(value, CookiePrefix, out name))
        {
            key = new HashKey(HashKeySource.Cookie, name);
            return true;
        }

        return false;
    }

    private static bool TryNamed(string value, string prefix, out string name)
    {
        name = "";
        if (!value.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        name = value[prefix.Length..].Trim();
        if (name.Length == 0)
        {
            return false;
        }

        return HttpSyntax.IsToken(name);
    }
}
