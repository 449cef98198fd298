namespace Tether.Doctor.Http;

/// <summary>One HTTP/1.x response as the doctor saw it on the wire.</summary>
public sealed record ProbeResponse
{
    /// <summary>"HTTP/1.1" or "HTTP/1.0", as the status line said.</summary>
    public required string Version { get; init; }

    public required int StatusCode { get; init; }

    public required IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; }

    public long BodyLength { get; init; }

    /// <summary>From the end of writing the request to the first byte of the response.</summary>
    public TimeSpan TimeToFirstByte { get; init; }

    /// <summary>From the end of writing the request to the last byte of the response.</summary>
    public TimeSpan Total { get; init; }

    /// <summary>The body ran to the end of the connection (no Content-Length, not chunked).</summary>
    public bool CloseDelimited { get; init; }

    public string? Header(string name)
    {
        foreach (var pair in Headers)
        {
            if (string.Equals(pair.Key, name, StringComparison.OrdinalIgnoreCase))
            {
                return pair.Value;
            }
        }

        return null;
    }

    /// <summary>True when the response itself says the connection ends with it (RFC 9112 §9.3).</summary>
    public bool ServerWillClose
    {
        get
        {
            if (CloseDelimited || HasConnectionToken("close"))
            {
                return true;
            }

            return Version == "HTTP/1.0" && !HasConnectionToken("keep-alive");
        }
    }

    /// <summary>The "timeout=N" parameter of a Keep-Alive header, if the server advertises one.</summary>
    public TimeSpan? AdvertisedIdleTimeout => KeepAliveParameter("timeout") is { } seconds ? TimeSpan.FromSeconds(seconds) : null;

    /// <summary>The "max=N" parameter of a Keep-Alive header: requests left on this connection.</summary>
    public int? AdvertisedMaxRequests => KeepAliveParameter("max");

    public bool HasConnectionToken(string token)
    {
        var value = Header("Connection");
        if (value is null)
        {
            return false;
        }

        foreach (var part in value.Split(','))
        {
            if (string.Equals(part.Trim(), token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private int? KeepAliveParameter(string name)
    {
        var value = Header("Keep-Alive");
        if (value is null)
        {
            return null;
        }

        foreach (var part in value.Split(','))
        {
            var pieces = part.Split('=', 2, StringSplitOptions.TrimEntries);
            if (pieces.Length == 2 && string.Equals(pieces[0], name, StringComparison.OrdinalIgnoreCase)
                && int.TryParse(pieces[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number))
            {
                return number;
            }
        }

        return null;
    }
}
