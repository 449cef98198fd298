namespace Tether.Doctor.Http;

/// <summary>What the doctor talks to: scheme, host, port and the request target, parsed from a URL once.</summary>
public sealed record ProbeTarget(string Host, int Port, bool UseTls, string PathAndQuery)
{
    /// <summary>The Host header value: the port is omitted when it is the scheme's default.</summary>
    public string Authority
    {
        get
        {
            var host = Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host;
            var defaultPort = UseTls ? 443 : 80;
            return Port == defaultPort ? host : $"{host}:{Port}";
        }
    }

    public Uri Uri => new($"{(UseTls ? "https" : "http")}://{Authority}{PathAndQuery}");

    /// <summary>Parses "http://host[:port]/path" or "https://…"; a bare "host:port" means http.</summary>
    public static bool TryParse(string? text, out ProbeTarget? target, out string? error)
    {
        target = null;
        error = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "the URL is empty; give one like http://127.0.0.1:8080/";
            return false;
        }

        var withScheme = text.Contains("://", StringComparison.Ordinal) ? text : "http://" + text;
        if (!Uri.TryCreate(withScheme, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            error = $"'{text}' is not an http:// or https:// URL";
            return false;
        }

        target = new ProbeTarget(uri.IdnHost.Trim('[', ']'), uri.Port, uri.Scheme == Uri.UriSchemeHttps, uri.PathAndQuery);
        return true;
    }
}
