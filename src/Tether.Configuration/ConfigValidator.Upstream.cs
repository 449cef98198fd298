using System.Net;
using Tether.Configuration.Binding;

namespace Tether.Configuration;

/// <summary>Checks of how a cluster speaks to its destinations: protocol, tls, http2.</summary>
public static partial class ConfigValidator
{
    private const string CaPurpose = "a PEM bundle of the CAs that sign the backends' certificates";
    private const string ClientCertificatePurpose = "the PEM client certificate (chain) Tether presents to the backends";

    private static void ValidateUpstream(ClusterConfig cluster, string path, List<ConfigError> errors)
    {
        if (!Enum.IsDefined(cluster.Protocol))
        {
            errors.Add(new ConfigError(path + ".protocol", cluster.Protocol.ToString(), "use \"http1\", \"http2\" or \"auto\""));
        }
        else if (cluster.Protocol == UpstreamProtocol.Auto)
        {
            ValidateAuto(cluster.Destinations, path, errors);
        }

        if (cluster.Protocol is UpstreamProtocol.Http2 or UpstreamProtocol.Auto
            && cluster.ProxyProtocol is ProxyProtocolVersion.V1 or ProxyProtocolVersion.V2)
        {
            // The header is written once per connection, and a multiplexed connection is shared by clients.
            var protocol = cluster.Protocol == UpstreamProtocol.Http2 ? "\"http2\"" : "\"auto\", when the backend picks h2";
            errors.Add(new ConfigError(path + ".proxyProtocol", ConfigText.Quote(cluster.ProxyProtocol == ProxyProtocolVersion.V1 ? "v1" : "v2"),
                $"a PROXY header names one client, but an HTTP/2 connection (protocol {protocol}) carries the requests of many clients; "
                + "set \"proxyProtocol\": \"off\", or \"protocol\": \"http1\" to keep one client per backend connection"));
        }

        ValidateUpstreamTls(cluster.Tls, path + ".tls", errors);
        ValidateDeadPeerTimeouts(cluster, path, errors);
        OptionalPositive(errors, path + ".http2.pingInterval", cluster.Http2.PingInterval, "30s");
        Positive(errors, path + ".http2.pingTimeout", cluster.Http2.PingTimeout, "20s");
    }

    // tcpUserTimeout and readIdleTimeout: how fast a backend that vanished (a dropped flow) is noticed.
    private static void ValidateDeadPeerTimeouts(ClusterConfig cluster, string path, List<ConfigError> errors)
    {
        if (cluster.TcpUserTimeout is { } userTimeout
            && (userTimeout < TimeSpan.FromMilliseconds(1) || userTimeout.TotalMilliseconds > int.MaxValue))
        {
            errors.Add(new ConfigError(path + ".tcpUserTimeout", ConfigText.Quote(Durations.Format(userTimeout)),
                "TCP_USER_TIMEOUT is whole milliseconds from 1ms to about 24 days; use a duration such as \"30s\", or \"off\" for the kernel's default"));
        }

        if (cluster.ResolveMinInterval <= TimeSpan.Zero)
        {
            errors.Add(new ConfigError(path + ".resolveMinInterval", ConfigText.Quote(Durations.Format(cluster.ResolveMinInterval)),
                "use a duration such as \"1s\": a record with TTL 0 would otherwise be asked for without pause"));
        }

        if (cluster.ReadIdleTimeout is not { } readIdle)
        {
            return;
        }

        if (readIdle <= TimeSpan.Zero)
        {
            errors.Add(new ConfigError(path + ".readIdleTimeout", ConfigText.Quote(Durations.Format(readIdle)),
                "use a duration such as \"5s\", or \"off\""));
        }
        else if (readIdle >= cluster.ResponseTimeout)
        {
            errors.Add(new ConfigError(path + ".readIdleTimeout", ConfigText.Quote(Durations.Format(readIdle)),
                $"must be below responseTimeout ({Durations.Format(cluster.ResponseTimeout)}): it bounds the silence between two reads, "
                + "responseTimeout the whole wait for the response head; lower readIdleTimeout, raise responseTimeout, or set readIdleTimeout to \"off\""));
        }
    }

    // "auto" is ALPN's choice, and only a TLS handshake carries ALPN.
    private static void ValidateAuto(IReadOnlyList<DestinationConfig> destinations, string path, List<ConfigError> errors)
    {
        var cleartext = new List<string>();
        for (var i = 0; i < destinations.Count; i++)
        {
            var destination = destinations[i];

            // A destination that did not parse (no host) is reported on its own; it says nothing about TLS.
            if (!destination.UseTls && !string.IsNullOrWhiteSpace(destination.Host))
            {
                cleartext.Add($"destinations[{i}] ({ConfigText.Quote(destination.Address.Length > 0 ? destination.Address : destination.Name)})");
            }
        }

        if (cleartext.Count > 0)
        {
            errors.Add(new ConfigError(path + ".protocol", ConfigText.Quote("auto"),
                $"\"auto\" chooses HTTP/2 or HTTP/1.1 by ALPN, which only TLS has, but {string.Join(", ", cleartext)} "
                + $"{(cleartext.Count == 1 ? "is" : "are")} not https://; write every destination as \"https://host:port\", "
                + "or use \"http2\" for HTTP/2 without TLS (h2c, prior knowledge) or \"http1\""));
        }
    }

    private static void ValidateUpstreamTls(UpstreamTlsConfig tls, string path, List<ConfigError> errors)
    {
        if (tls.ServerName is { } serverName && !IsServerName(serverName))
        {
            errors.Add(new ConfigError(path + ".serverName", ConfigText.Quote(serverName),
                "write the host name the backends' certificates are issued for, such as \"api.internal\", or remove \"serverName\" to use each destination's host"));
        }

        if (!Enum.IsDefined(tls.MinVersion))
        {
            errors.Add(new ConfigError(path + ".minVersion", tls.MinVersion.ToString(), "use \"1.2\" or \"1.3\""));
        }

        ValidateTlsFiles(tls.CaFile, tls.Certificate, tls.Key, path, CaPurpose, ClientCertificatePurpose, errors);
    }

    // caFile, certificate and key of a TLS client (a cluster's backends, etcd): readable PEMs that hold what they say.
    private static void ValidateTlsFiles(string? caFile, string? certificate, string? key, string path, string caPurpose, string certificatePurpose, List<ConfigError> errors)
    {
        var tls = (CaFile: caFile, Certificate: certificate, Key: key);
        if (ReadablePemFile(tls.CaFile, path + ".caFile", "CA", errors))
        {
            Report(errors, path + ".caFile", tls.CaFile!, PemFiles.NoCertificate(tls.CaFile!, "CA", caPurpose));
        }

        if (tls.Certificate is not null && tls.Key is null)
        {
            errors.Add(new ConfigError(path + ".key", null,
                "a client certificate needs its private key; add \"key\" with the path of the PEM key file, or remove \"certificate\""));
        }
        else if (tls.Key is not null && tls.Certificate is null)
        {
            errors.Add(new ConfigError(path + ".certificate", null,
                "a private key is presented with its client certificate; add \"certificate\" with the path of the PEM certificate (chain), or remove \"key\""));
        }

        var certificateFits = ReadablePemFile(tls.Certificate, path + ".certificate", "client certificate", errors)
            && Report(errors, path + ".certificate", tls.Certificate!, PemFiles.NoCertificate(tls.Certificate!, "client certificate", certificatePurpose));
        if (ReadablePemFile(tls.Key, path + ".key", "key", errors) && certificateFits)
        {
            Report(errors, path + ".key", tls.Key!, PemFiles.KeyDoesNotFit(tls.Certificate!, tls.Key!));
        }
    }

    // True when file is set and can be read; reports an empty path or a file that cannot be read.
    private static bool ReadablePemFile(string? file, string path, string what, List<ConfigError> errors)
    {
        if (file is null)
        {
            return false;
        }

        if (string.IsNullOrWhiteSpace(file))
        {
            errors.Add(new ConfigError(path, ConfigText.Quote(file), $"the path is empty; give the path of the PEM {what} file, or remove the key"));
            return false;
        }

        return Report(errors, path, file, PemFiles.Unreadable(file, what));
    }

    // True when there is no problem; otherwise adds it as the error of path.
    private static bool Report(List<ConfigError> errors, string path, string file, string? problem)
    {
        if (problem is not null)
        {
            errors.Add(new ConfigError(path, ConfigText.Quote(file), problem));
        }

        return problem is null;
    }

    // SNI carries a host name (RFC 6066 §3); an IP literal is allowed too: it is then only the name verified.
    private static bool IsServerName(string name) =>
        AddressParser.IsHostName(name) || IPAddress.TryParse(name, out _);
}
