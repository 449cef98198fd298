using System.Globalization;
using Tether.Configuration.Binding;

namespace Tether.Configuration;

/// <summary>Checks of the protection keys: rates, limits, HTTP/2 windows, CIDR lists, PROXY protocol.</summary>
public static partial class ConfigValidator
{
    // RFC 9113 §6.9.1: a flow-control window is 2^16-1 bytes at start and at most 2^31-1.
    private const int MinHttp2Window = 65_535;

    // Kestrel's heartbeat checks data rates once a second, so a shorter grace cannot be honoured.
    private static readonly TimeSpan _minGrace = TimeSpan.FromSeconds(1);

    private static void ValidateProtection(TetherConfig config, List<ConfigError> errors)
    {
        var d = config.Downstream;
        SocketBufferSize(errors, "downstream.sendBufferSize", d.SendBufferSize);
        SocketBufferSize(errors, "downstream.receiveBufferSize", d.ReceiveBufferSize);
        ValidateDataRate(d.MinRequestBodyRate, "downstream.minRequestBodyRate", errors);
        ValidateDataRate(d.MinResponseRate, "downstream.minResponseRate", errors);
        Positive(errors, "downstream.tlsHandshakeTimeout", d.TlsHandshakeTimeout, "10s");
        NotNegative(errors, "downstream.maxConnectionsPerClient", d.MaxConnectionsPerClient, "100, or 0 for unlimited");
        NotNegative(errors, "downstream.maxConnections", d.MaxConnections, "10000, or 0 for unlimited");
        AtLeast(errors, "downstream.maxRequestLineSize", d.MaxRequestLineSize, 64, "8192");
        AtLeast(errors, "downstream.maxRequestHeadersSize", d.MaxRequestHeadersSize, 64, "32768");
        AtLeast(errors, "downstream.maxRequestHeaderCount", d.MaxRequestHeaderCount, 1, "100");
        AtLeast(errors, "downstream.http2.maxStreamsPerConnection", d.Http2.MaxStreamsPerConnection, 1, "100");
        AtLeast(errors, "downstream.http2.initialStreamWindowSize", d.Http2.InitialStreamWindowSize, MinHttp2Window, "786432 (768 KiB)");
        AtLeast(errors, "downstream.http2.initialConnectionWindowSize", d.Http2.InitialConnectionWindowSize, MinHttp2Window, "1048576 (1 MiB)");
        NotNegative(errors, "downstream.http2.maxControlFramesPerSecond", d.Http2.MaxControlFramesPerSecond, "1000, or 0 for no limit");
        ValidateNetworks(d.TrustedProxies, "downstream.trustedProxies", errors);

        for (var i = 0; i < config.Listeners.Count; i++)
        {
            ValidateProxyProtocol(config.Listeners[i].ProxyProtocol, ConfigText.Index("listeners", i) + ".proxyProtocol", errors);
        }

        foreach (var (name, cluster) in config.Clusters)
        {
            if (!Enum.IsDefined(cluster.ProxyProtocol))
            {
                errors.Add(new ConfigError(ConfigText.Child("clusters", name) + ".proxyProtocol", cluster.ProxyProtocol.ToString(), "use \"off\", \"v1\" or \"v2\""));
            }
        }
    }

    private static void ValidateDataRate(DataRateConfig rate, string path, List<ConfigError> errors)
    {
        NotNegative(errors, path + ".bytesPerSecond", rate.BytesPerSecond, "240, or 0 to turn the check off");
        if (!rate.IsOff && rate.Grace <= _minGrace)
        {
            errors.Add(new ConfigError(path + ".grace", ConfigText.Quote(Durations.Format(rate.Grace)),
                "the rate is checked once a second, so the grace period must be more than 1s; use a duration such as \"5s\""));
        }
    }

    private static void ValidateProxyProtocol(ProxyProtocolConfig proxy, string path, List<ConfigError> errors)
    {
        if (!Enum.IsDefined(proxy.Mode))
        {
            errors.Add(new ConfigError(path + ".mode", proxy.Mode.ToString(), "use \"off\", \"optional\" or \"required\""));
            return;
        }

        if (proxy.Mode == ProxyProtocolMode.Off)
        {
            return;
        }

        Positive(errors, path + ".timeout", proxy.Timeout, "5s");
        if (proxy.TrustedNetworks.Count == 0)
        {
            // A header rewrites the client address every limit and log relies on: trusting every peer by
            // default would let any client claim any address.
            errors.Add(new ConfigError(path + ".trustedNetworks", "[]",
                "list the addresses of the load balancers that send PROXY headers, such as [\"10.0.0.0/8\"] (or [\"0.0.0.0/0\", \"::/0\"] to trust every peer)"));
        }

        ValidateNetworks(proxy.TrustedNetworks, path + ".trustedNetworks", errors);
    }

    private static void ValidateNetworks(IReadOnlyList<string> networks, string path, List<ConfigError> errors)
    {
        for (var i = 0; i < networks.Count; i++)
        {
            if (!CidrParser.TryParse(networks[i], out _, out var problem))
            {
                errors.Add(new ConfigError(ConfigText.Index(path, i), ConfigText.Quote(networks[i]), problem));
            }
        }
    }

    // Linux doubles the value and clamps it to [4608, 2 * net.core.[rw]mem_max]; below 4 KiB a socket cannot hold
    // one segment of headers, above 64 MiB is more than any kernel default allows.
    private const int MinSocketBuffer = 4096;
    private const int MaxSocketBuffer = 64 * 1024 * 1024;

    private static void SocketBufferSize(List<ConfigError> errors, string path, int value)
    {
        if (value != 0 && value is < MinSocketBuffer or > MaxSocketBuffer)
        {
            errors.Add(new ConfigError(path, value.ToString(CultureInfo.InvariantCulture),
                "must be 0 (the OS default) or between 4096 and 67108864 bytes; use 65536 (64 KiB)"));
        }
    }

    private static void AtLeast(List<ConfigError> errors, string path, int value, int minimum, string example)
    {
        if (value < minimum)
        {
            errors.Add(new ConfigError(path, value.ToString(CultureInfo.InvariantCulture),
                $"must be at least {minimum.ToString(CultureInfo.InvariantCulture)}; use {example}"));
        }
    }
}
