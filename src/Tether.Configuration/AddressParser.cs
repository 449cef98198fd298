using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Tether.Configuration;

/// <summary>
/// Parses the address forms the config accepts: "host:port" for listeners and admin, and the
/// destination forms ("127.0.0.1:9001", "http://host:port", "http://host", "https://host:port",
/// "https://host", "[::1]:9001").
/// </summary>
public static class AddressParser
{
    /// <summary>
    /// "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:80", "*:8080", "localhost:8080" → host and port.
    /// The host comes back without brackets; "*" (all interfaces) stays "*". The port may be 0..65535
    /// here (0 = any free port, handy in tests); config validation accepts 0 for listeners and admin (any free port), not for destinations.
    /// </summary>
    public static bool TryParseHostPort(string? text, out string host, out int port) =>
        TryParseHostPort(text, out host, out port, out _);

    /// <summary>As <see cref="TryParseHostPort(string?, out string, out int)"/>, with the reason it failed.</summary>
    public static bool TryParseHostPort(string? text, out string host, out int port, out string? error)
    {
        host = "";
        port = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "the address is empty";
            return false;
        }

        string hostPart;
        string portPart;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
            {
                error = "an IPv6 address is written with brackets and a port, as \"[::1]:8080\"";
                return false;
            }

            hostPart = text[1..close];
            portPart = text[(close + 2)..];
            if (!IPAddress.TryParse(hostPart, out var address) || address.AddressFamily != AddressFamily.InterNetworkV6)
            {
                error = $"\"{hostPart}\" is not an IPv6 address";
                return false;
            }
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon < 0)
            {
                error = "add a port, as \"127.0.0.1:8080\"";
                return false;
            }

            hostPart = text[..colon];
            portPart = text[(colon + 1)..];
            if (hostPart.Contains(':', StringComparison.Ordinal))
            {
                error = "write an IPv6 address in brackets, as \"[::1]:8080\"";
                return false;
            }

            if (hostPart != "*" && !IsHostName(hostPart))
            {
                error = $"\"{hostPart}\" is not a host name or IP address";
                return false;
            }
        }

        if (!int.TryParse(portPart, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535)
        {
            port = 0;
            error = $"\"{portPart}\" is not a port; use a number from 1 to 65535";
            return false;
        }

        host = hostPart;
        error = null;
        return true;
    }

    /// <summary>
    /// A destination as written in a cluster: "127.0.0.1:9001", "localhost:9001", "[::1]:9001",
    /// "http://host:port", "http://host" (port 80), "https://host:port" or "https://host" (port 443).
    /// "https://" sets <see cref="DestinationConfig.UseTls"/>: the destination is spoken to over TLS, as
    /// clusters.&lt;name&gt;.tls says. On failure, <paramref name="error"/> says what to write.
    /// </summary>
    public static bool TryParseDestination(string? text, int weight, out DestinationConfig destination, out string? error)
    {
        destination = new DestinationConfig { Address = text ?? "", Weight = weight };
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "the destination is empty; write one such as \"127.0.0.1:9001\"";
            return false;
        }

        var rest = text.Trim();
        // The port a scheme implies when none is written; 0 = no scheme, so a port is required.
        var defaultPort = 0;
        var useTls = false;
        var schemeEnd = rest.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd >= 0)
        {
            var scheme = rest[..schemeEnd];
            if (scheme.Equals("https", StringComparison.OrdinalIgnoreCase))
            {
                useTls = true;
                defaultPort = 443;
            }
            else if (scheme.Equals("http", StringComparison.OrdinalIgnoreCase))
            {
                defaultPort = 80;
            }
            else if (scheme.Equals("srv", StringComparison.OrdinalIgnoreCase))
            {
                return TryParseService(rest[(schemeEnd + 3)..], destination, out destination, out error);
            }
            else
            {
                error = $"scheme \"{scheme}\" is not supported; use \"http://host:port\", \"https://host:port\", \"srv://_http._tcp.name\" or \"host:port\"";
                return false;
            }

            rest = rest[(schemeEnd + 3)..];
        }

        // One trailing "/" is harmless ("http://host:8080/"); a real path is not: routes match paths, destinations don't rewrite them.
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            if (slash != rest.Length - 1)
            {
                error = $"a destination is host and port only; remove the path \"{rest[slash..]}\"";
                return false;
            }

            rest = rest[..slash];
        }

        if (defaultPort != 0 && !HasPort(rest))
        {
            rest += ":" + defaultPort.ToString(CultureInfo.InvariantCulture);
        }

        if (!TryParseHostPort(rest, out var host, out var port, out var hostError))
        {
            error = hostError + " (a destination looks like \"127.0.0.1:9001\", \"http://host:port\" or \"https://host:port\")";
            return false;
        }

        if (host == "*")
        {
            error = "\"*\" means all interfaces and cannot be a destination; write the backend's address such as \"127.0.0.1:9001\"";
            return false;
        }

        if (port == 0)
        {
            error = "port 0 cannot be a destination; use the backend's port, from 1 to 65535";
            return false;
        }

        destination = destination with { Host = host, Port = port, UseTls = useTls };
        error = null;
        return true;
    }

    /// <summary>A DNS server of dns.servers: "10.0.0.2" (port 53), "127.0.0.1:5353", "::1" or "[::1]:5353".</summary>
    public static bool TryParseDnsServer(string? text, out IPEndPoint server)
    {
        server = new IPEndPoint(IPAddress.None, 53);
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        if (IPAddress.TryParse(text, out var bare) && !text.StartsWith('['))
        {
            server = new IPEndPoint(bare, 53);
            return true;
        }

        if (!TryParseHostPort(text, out var host, out var port) || port == 0 || !IPAddress.TryParse(host, out var address))
        {
            return false;
        }

        server = new IPEndPoint(address, port);
        return true;
    }

    // "srv://_http._tcp.api.internal": a name only; the records give the ports.
    private static bool TryParseService(string name, DestinationConfig written, out DestinationConfig destination, out string? error)
    {
        destination = written;
        name = name.TrimEnd('/');
        if (name.Contains(':', StringComparison.Ordinal) || !IsHostName(name) || name.StartsWith('.'))
        {
            error = $"\"{name}\" is not an SRV name; write one such as \"srv://_http._tcp.api.internal\" (no port: the records give it)";
            return false;
        }

        destination = written with { Host = name, Port = 0, Srv = true };
        error = null;
        return true;
    }

    private static bool HasPort(string hostAndMaybePort) =>
        hostAndMaybePort.StartsWith('[')
            ? hostAndMaybePort.Contains("]:", StringComparison.Ordinal)
            : hostAndMaybePort.Contains(':', StringComparison.Ordinal);

    internal static bool IsHostName(string host)
    {
        if (host.Length == 0 || host.Length > 253)
        {
            return false;
        }

        foreach (var c in host)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '.' && c != '-' && c != '_')
            {
                return false;
            }
        }

        return true;
    }
}
