using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tether.Configuration.Binding;

/// <summary>Turns one JSON value into a typed value, or says what to write instead.
/// <paramref name="fromEnvironment"/> is true when a TETHER__ variable wrote the value: those are always
/// strings, so numbers and booleans are read from the text.</summary>
internal delegate bool ValueParser<T>(JsonNode? node, bool fromEnvironment, out T value, out string error);

/// <summary>What <see cref="ValueParsers.ObjectSwitch"/> read.</summary>
internal enum Switch
{
    Object,
    On,
    Off,
}

/// <summary>The parsers the binder uses, one per kind of key.</summary>
internal static class ValueParsers
{
    private const string DurationExamples = "a duration such as \"60s\", \"500ms\" or \"1h30m\"";

    public static bool Duration(JsonNode? node, bool fromEnvironment, out TimeSpan value, out string error)
    {
        value = TimeSpan.Zero;
        if (AsString(node) is { } text)
        {
            if (Durations.TryParse(text, out value))
            {
                error = "";
                return true;
            }

            error = text.Trim().Equals(Durations.Off, StringComparison.OrdinalIgnoreCase)
                ? $"this timeout cannot be off; use {DurationExamples}"
                : DurationError(text);
            return false;
        }

        error = node?.GetValueKind() == JsonValueKind.Number
            ? DurationError(node.ToJsonString())
            : $"expected a duration, got {ConfigText.KindOf(node)}; use {DurationExamples}";
        return false;
    }

    /// <summary>A duration that may be "off" (or JSON null), which gives null.</summary>
    public static bool OptionalDuration(JsonNode? node, bool fromEnvironment, out TimeSpan? value, out string error)
    {
        value = null;
        if (node is null || (AsString(node) is { } text && text.Trim().Equals(Durations.Off, StringComparison.OrdinalIgnoreCase)))
        {
            error = "";
            return true;
        }

        var ok = Duration(node, fromEnvironment, out var parsed, out error);
        value = ok ? parsed : null;
        if (!ok)
        {
            error += ", or \"off\"";
        }

        return ok;
    }

    /// <summary>A section that is on by default: an object (its keys are read next), true (every default), or
    /// false / "off" (turned off).</summary>
    public static bool ObjectSwitch(JsonNode? node, bool fromEnvironment, out Switch value, out string error)
    {
        error = "";
        value = Switch.Object;
        if (node is JsonObject)
        {
            return true;
        }

        if (AsString(node) is { } text && text.Trim().Equals(Durations.Off, StringComparison.OrdinalIgnoreCase))
        {
            value = Switch.Off;
            return true;
        }

        if (Bool(node, fromEnvironment, out var on, out _))
        {
            value = on ? Switch.On : Switch.Off;
            return true;
        }

        error = $"expected an object {{ … }}, true, or false (or \"off\") to turn it off, got {ConfigText.KindOf(node)}";
        return false;
    }

    public static bool Int(JsonNode? node, bool fromEnvironment, out int value, out string error)
    {
        value = 0;
        error = "";
        if (node is JsonValue number && number.GetValueKind() == JsonValueKind.Number)
        {
            if (number.TryGetValue(out value))
            {
                return true;
            }

            error = "expected a whole number such as 64";
            return false;
        }

        if (AsString(node) is { } text)
        {
            if (fromEnvironment && int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
            {
                return true;
            }

            error = fromEnvironment ? "expected a whole number such as 64"
                : int.TryParse(text, CultureInfo.InvariantCulture, out _) ? $"expected a number, got a string; write {text.Trim()} without quotes"
                : "expected a whole number such as 64, got a string";
            return false;
        }

        error = $"expected a whole number such as 64, got {ConfigText.KindOf(node)}";
        return false;
    }

    public static bool Double(JsonNode? node, bool fromEnvironment, out double value, out string error)
    {
        value = 0;
        error = "";
        if (node is JsonValue number && number.GetValueKind() == JsonValueKind.Number && number.TryGetValue(out value) && double.IsFinite(value))
        {
            return true;
        }

        if (fromEnvironment && AsString(node) is { } text
            && double.TryParse(text.Trim(), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out value))
        {
            return true;
        }

        error = $"expected a number such as 0.1, got {ConfigText.KindOf(node)}";
        return false;
    }

    /// <summary>A byte size: a JSON number of bytes, or a string such as "1m", "512k" or "2g" (<see cref="Sizes"/>).</summary>
    public static bool Size(JsonNode? node, bool fromEnvironment, out long value, out string error)
    {
        value = 0;
        error = "";
        if (node is JsonValue number && number.GetValueKind() == JsonValueKind.Number)
        {
            if (number.TryGetValue(out value) && value >= 0)
            {
                return true;
            }

            error = "expected a size such as \"1m\", \"512k\" or a whole number of bytes, or 0 for unlimited";
            return false;
        }

        if (AsString(node) is { } text && Sizes.TryParse(text, out value))
        {
            return true;
        }

        error = "expected a size such as \"1m\", \"512k\" or a whole number of bytes (k, m, g are KiB, MiB, GiB), or 0 for unlimited";
        return false;
    }

    public static bool Bool(JsonNode? node, bool fromEnvironment, out bool value, out string error)
    {
        value = false;
        error = "";
        var kind = node?.GetValueKind();
        if (kind is JsonValueKind.True or JsonValueKind.False)
        {
            value = kind == JsonValueKind.True;
            return true;
        }

        if (fromEnvironment && AsString(node) is { } text && bool.TryParse(text.Trim(), out value))
        {
            return true;
        }

        error = $"expected true or false, got {ConfigText.KindOf(node)}";
        return false;
    }

    public static bool String(JsonNode? node, bool fromEnvironment, out string value, out string error)
    {
        if (AsString(node) is { } text)
        {
            value = text;
            error = "";
            return true;
        }

        value = "";
        error = $"expected a string, got {ConfigText.KindOf(node)}";
        return false;
    }

    /// <summary>A string that may be JSON null.</summary>
    public static bool OptionalString(JsonNode? node, bool fromEnvironment, out string? value, out string error)
    {
        value = null;
        error = "";
        if (node is null)
        {
            return true;
        }

        var ok = String(node, fromEnvironment, out var text, out error);
        value = ok ? text : null;
        return ok;
    }

    public static bool Protocols(JsonNode? node, bool fromEnvironment, out ListenerProtocols value, out string error) =>
        EnumValue(node, "expected \"http1\", \"http2\" or \"http1AndHttp2\"", out value, out error);

    public static bool Engine(JsonNode? node, bool fromEnvironment, out ListenerEngine value, out string error) =>
        EnumValue(node, "expected \"kestrel\" or \"tether\"", out value, out error);

    // A string naming one of T's members, in any case.
    private static bool EnumValue<T>(JsonNode? node, string expected, out T value, out string error)
        where T : struct, Enum
    {
        value = default;
        error = "";
        if (AsString(node) is { } text)
        {
            foreach (var member in Enum.GetValues<T>())
            {
                if (text.Trim().Equals(member.ToString(), StringComparison.OrdinalIgnoreCase))
                {
                    value = member;
                    return true;
                }
            }
        }

        error = expected;
        return false;
    }

    /// <summary>A load-balancing policy name, put in its canonical case when it matches a known one;
    /// an unknown name is kept as written for the validator to report (it knows the list).</summary>
    public static bool LoadBalancing(JsonNode? node, bool fromEnvironment, out string value, out string error)
    {
        if (!String(node, fromEnvironment, out value, out error))
        {
            return false;
        }

        foreach (var known in LoadBalancingPolicyNames.All)
        {
            if (known.Equals(value.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                value = known;
                break;
            }
        }

        return true;
    }

    public static bool ProxyProtocolMode(JsonNode? node, bool fromEnvironment, out ProxyProtocolMode value, out string error) =>
        Named(node, out value, out error, "expected \"off\", \"optional\" or \"required\"");

    public static bool ProxyProtocolVersion(JsonNode? node, bool fromEnvironment, out ProxyProtocolVersion value, out string error) =>
        Named(node, out value, out error, "expected \"off\", \"v1\" or \"v2\"");

    public static bool UnderscoreHeaders(JsonNode? node, bool fromEnvironment, out UnderscoreHeaders value, out string error) =>
        Named(node, out value, out error, "expected \"drop\", \"reject\" or \"allow\"");

    public static bool UpstreamProtocol(JsonNode? node, bool fromEnvironment, out UpstreamProtocol value, out string error) =>
        Named(node, out value, out error, "expected \"http1\", \"http2\" or \"auto\"");

    public static bool CompressionLevel(JsonNode? node, bool fromEnvironment, out CompressionLevelName value, out string error) =>
        Named(node, out value, out error, "expected \"fastest\", \"optimal\" or \"smallestSize\"");

    public static bool AccessLogFormat(JsonNode? node, bool fromEnvironment, out AccessLogFormat value, out string error) =>
        Named(node, out value, out error, "expected \"combined\" or \"json\"");

    /// <summary>"1.2" or "1.3", written as a string (a JSON number is refused with the fix); the inverse of <see cref="TlsVersionName"/>.</summary>
    public static bool TlsMinimumVersion(JsonNode? node, bool fromEnvironment, out TlsMinimumVersion value, out string error)
    {
        value = default;
        error = "";
        var text = AsString(node)?.Trim();
        foreach (var candidate in Enum.GetValues<TlsMinimumVersion>())
        {
            if (TlsVersionName(candidate) == text)
            {
                value = candidate;
                return true;
            }
        }

        error = text is "1.0" or "1.1" ? "TLS 1.0 and 1.1 are not offered (RFC 8996); use \"1.2\" or \"1.3\""
            : text is not null ? "expected \"1.2\" or \"1.3\""
            : node is JsonValue number && number.GetValueKind() == JsonValueKind.Number ? $"write the version as a string, \"{number.ToJsonString()}\"; use \"1.2\" or \"1.3\""
            : $"expected \"1.2\" or \"1.3\", got {ConfigText.KindOf(node)}";
        return false;
    }

    /// <summary>"1.2", "1.3": how the config spells a <see cref="Configuration.TlsMinimumVersion"/>.</summary>
    public static string TlsVersionName(TlsMinimumVersion version) => version switch
    {
        Configuration.TlsMinimumVersion.Tls12 => "1.2",
        Configuration.TlsMinimumVersion.Tls13 => "1.3",
        _ => version.ToString(),
    };

    // An enum written as its name in any case ("optional", "V2").
    private static bool Named<T>(JsonNode? node, out T value, out string error, string expected)
        where T : struct, Enum
    {
        value = default;
        error = "";
        if (AsString(node) is { } text)
        {
            foreach (var candidate in Enum.GetValues<T>())
            {
                if (text.Trim().Equals(candidate.ToString(), StringComparison.OrdinalIgnoreCase))
                {
                    value = candidate;
                    return true;
                }
            }
        }

        error = $"{expected}, got {ConfigText.KindOf(node)}";
        return false;
    }

    /// <summary>A status range as a string ("200-399"), or a single status written as a number (200).</summary>
    public static bool StatusText(JsonNode? node, bool fromEnvironment, out string value, out string error)
    {
        if (node is JsonValue number && number.GetValueKind() == JsonValueKind.Number)
        {
            value = number.ToJsonString();
            error = "";
            return true;
        }

        if (String(node, fromEnvironment, out value, out _))
        {
            error = "";
            return true;
        }

        error = $"expected a status range such as \"200-399\" or \"200\", got {ConfigText.KindOf(node)}";
        return false;
    }

    private static string DurationError(string text)
    {
        var trimmed = text.Trim();
        return long.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out _)
            ? $"a duration needs a unit: write \"{trimmed}s\" for seconds or \"{trimmed}ms\" for milliseconds"
            : $"use {DurationExamples}";
    }

    private static string? AsString(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;
}
