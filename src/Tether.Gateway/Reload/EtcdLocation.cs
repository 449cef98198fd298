namespace Tether.Gateway.Reload;

/// <summary>
/// Where a config lives in etcd: <c>etcd://host:2379[,host2:2379]/prefix</c> (cleartext) or <c>etcds://…</c> (TLS).
/// The document is the key <c>&lt;prefix&gt;/config</c>. Credentials and the CA file come from their own options,
/// never from the address (it is logged).
/// </summary>
public sealed record EtcdLocation(IReadOnlyList<Uri> Endpoints, string Prefix)
{
    /// <summary>The user of etcd's auth (with <see cref="Password"/>); null = no auth.</summary>
    public string? User { get; init; }

    public string? Password { get; init; }

    /// <summary>PEM bundle of the CAs that sign etcd's certificates (etcds://); null = the system store.</summary>
    public string? CaFile { get; init; }

    /// <summary>PEM client certificate (chain) presented to etcd (--client-cert-auth), with <see cref="KeyFile"/>.</summary>
    public string? CertificateFile { get; init; }

    public string? KeyFile { get; init; }

    /// <summary>True for etcds:// (TLS).</summary>
    public bool Tls => Endpoints.Count > 0 && Endpoints[0].Scheme == Uri.UriSchemeHttps;

    /// <summary>The key that holds the config document.</summary>
    public string ConfigKey => Prefix + "/config";

    /// <summary>What is wrong with the credentials and TLS files given with the address (empty: nothing), each naming
    /// the option at fault and the fix.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (User is not null && Password is null)
        {
            problems.Add($"--etcd-user {User} needs the password in the environment variable TETHER_ETCD_PASSWORD");
        }

        if (!Tls && (CaFile ?? CertificateFile ?? KeyFile) is not null)
        {
            problems.Add("--etcd-ca-file, --etcd-cert-file and --etcd-key-file are for TLS: write etcds:// instead of etcd://");
        }

        if ((CertificateFile is null) != (KeyFile is null))
        {
            problems.Add(CertificateFile is null
                ? "--etcd-key-file needs its certificate: add --etcd-cert-file"
                : "--etcd-cert-file needs its private key: add --etcd-key-file");
        }

        foreach (var (option, file) in (ReadOnlySpan<(string, string?)>)[("--etcd-ca-file", CaFile), ("--etcd-cert-file", CertificateFile), ("--etcd-key-file", KeyFile)])
        {
            if (file is not null && !File.Exists(file))
            {
                problems.Add($"{option} {file}: no such file; give the path of a PEM file");
            }
        }

        return problems;
    }

    public static bool IsEtcd(string text) =>
        text.StartsWith("etcd://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("etcds://", StringComparison.OrdinalIgnoreCase);

    public static bool TryParse(string text, out EtcdLocation? location, out string error)
    {
        ArgumentNullException.ThrowIfNull(text);
        location = null;
        var tls = text.StartsWith("etcds://", StringComparison.OrdinalIgnoreCase);
        var rest = text[(tls ? "etcds://".Length : "etcd://".Length)..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == rest.Length - 1)
        {
            error = "write etcd://host:2379/prefix (several endpoints: etcd://h1:2379,h2:2379/prefix); the config is read from <prefix>/config";
            return false;
        }

        var endpoints = new List<Uri>();
        foreach (var endpoint in rest[..slash].Split(','))
        {
            if (!Configuration.AddressParser.TryParseHostPort(endpoint, out var host, out var port, out var hostError) || port == 0 || host == "*")
            {
                error = $"etcd endpoint \"{endpoint}\": {hostError ?? "use host:port such as 127.0.0.1:2379"}";
                return false;
            }

            endpoints.Add(new Uri($"{(tls ? "https" : "http")}://{(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host)}:{port}"));
        }

        location = new EtcdLocation(endpoints, "/" + rest[(slash + 1)..].Trim('/'));
        error = "";
        return true;
    }
}
