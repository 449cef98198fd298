namespace Tether.Configuration;

/// <summary>RFC 9110 syntax checks for names and values the config writes into HTTP messages.</summary>
public static class HttpSyntax
{
    /// <summary>An RFC 9110 §5.6.2 token: what header names, cookie names and methods are made of.</summary>
    public static bool IsToken(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (c <= ' ' || c >= 127 || "()<>@,;:\\\"/[]?={}".Contains(c, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>An RFC 9110 §5.5 field value Tether may write: visible ASCII, space and tab (no CR, LF or other control byte).</summary>
    public static bool IsFieldValue(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if ((c < ' ' && c != '\t') || c >= 127)
            {
                return false;
            }
        }

        return true;
    }
}
