namespace Tether.Configuration;

/// <summary>A variable a header value may hold.</summary>
public enum TemplateVariable
{
    /// <summary>A literal piece of text.</summary>
    None,

    /// <summary>"{clientIp}": the client's address (after the PROXY protocol and a trusted proxy's X-Forwarded-For).</summary>
    ClientIp,

    /// <summary>"{host}": the request's Host.</summary>
    Host,

    /// <summary>"{requestId}": the id Tether gives the request (also in X-Request-Id of error responses and in log lines).</summary>
    RequestId,
}

/// <summary>One piece of a header value: a literal, or a variable.</summary>
public readonly record struct TemplatePart(string Literal, TemplateVariable Variable);

/// <summary>Header values with variables: "{clientIp}", "{host}", "{requestId}" (names in any case). A brace that does not
/// open a variable name ("{", "{ a }", "a{") is literal text; "{name}" with an unknown name is an error.</summary>
public static class HeaderTemplate
{
    public const string Variables = "{clientIp}, {host} and {requestId}";

    public static bool TryParse(string text, out List<TemplatePart> parts, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        parts = [];
        error = null;
        var literalStart = 0;
        var at = 0;
        while ((at = text.IndexOf('{', at)) >= 0)
        {
            var close = text.IndexOf('}', at + 1);
            if (close < 0)
            {
                break;
            }

            var name = text.AsSpan(at + 1, close - at - 1);
            if (name.IsEmpty || !IsIdentifier(name))
            {
                at++;
                continue;
            }

            var variable = name switch
            {
                _ when name.Equals("clientIp", StringComparison.OrdinalIgnoreCase) => TemplateVariable.ClientIp,
                _ when name.Equals("host", StringComparison.OrdinalIgnoreCase) => TemplateVariable.Host,
                _ when name.Equals("requestId", StringComparison.OrdinalIgnoreCase) => TemplateVariable.RequestId,
                _ => TemplateVariable.None,
            };
            if (variable == TemplateVariable.None)
            {
                error = $"unknown variable {{{name}}}; a value may hold {Variables}";
                return false;
            }

            if (at > literalStart)
            {
                parts.Add(new TemplatePart(text[literalStart..at], TemplateVariable.None));
            }

            parts.Add(new TemplatePart("", variable));
            at = literalStart = close + 1;
        }

        if (literalStart < text.Length || parts.Count == 0)
        {
            parts.Add(new TemplatePart(text[literalStart..], TemplateVariable.None));
        }

        return true;
    }

    private static bool IsIdentifier(ReadOnlySpan<char> name)
    {
        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_')
            {
                return false;
            }
        }

        return true;
    }
}
