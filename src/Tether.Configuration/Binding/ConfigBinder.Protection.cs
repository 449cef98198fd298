using System.Text.Json.Nodes;

namespace Tether.Configuration.Binding;

/// <summary>The protection keys: slow-client rates, connection and header limits, HTTP/2 limits, trusted
/// proxies, and the PROXY protocol on listeners.</summary>
internal static partial class ConfigBinder
{
    private static DownstreamConfig BindDownstreamProtection(ObjectReader reader, DownstreamConfig downstream)
    {
        var defaults = new DownstreamConfig();
        return downstream with
        {
            SendBufferSize = reader.Read("sendBufferSize", defaults.SendBufferSize, ValueParsers.Int),
            ReceiveBufferSize = reader.Read("receiveBufferSize", defaults.ReceiveBufferSize, ValueParsers.Int),
            MinRequestBodyRate = BindDataRate(reader.Object("minRequestBodyRate")),
            MinResponseRate = BindDataRate(reader.Object("minResponseRate")),
            TlsHandshakeTimeout = reader.Read("tlsHandshakeTimeout", defaults.TlsHandshakeTimeout, ValueParsers.Duration),
            MaxConnectionsPerClient = reader.Read("maxConnectionsPerClient", defaults.MaxConnectionsPerClient, ValueParsers.Int),
            MaxConnections = reader.Read("maxConnections", defaults.MaxConnections, ValueParsers.Int),
            MaxRequestLineSize = reader.Read("maxRequestLineSize", defaults.MaxRequestLineSize, ValueParsers.Int),
            MaxRequestHeadersSize = reader.Read("maxRequestHeadersSize", defaults.MaxRequestHeadersSize, ValueParsers.Int),
            MaxRequestHeaderCount = reader.Read("maxRequestHeaderCount", defaults.MaxRequestHeaderCount, ValueParsers.Int),
            Http2 = BindHttp2(reader.Object("http2")),
            TrustedProxies = BindNetworks(reader, "trustedProxies"),
            MaxRequestBodySize = reader.Read("maxRequestBodySize", defaults.MaxRequestBodySize, ValueParsers.Size),
            AddForwarded = reader.Read("addForwarded", defaults.AddForwarded, ValueParsers.Bool),
            UnderscoresInHeaders = reader.Read("underscoresInHeaders", defaults.UnderscoresInHeaders, ValueParsers.UnderscoreHeaders),
        };
    }

    private static DataRateConfig BindDataRate(ObjectReader reader)
    {
        var defaults = new DataRateConfig();
        var rate = new DataRateConfig
        {
            BytesPerSecond = reader.Read("bytesPerSecond", defaults.BytesPerSecond, ValueParsers.Int),
            Grace = reader.Read("grace", defaults.Grace, ValueParsers.Duration),
        };
        reader.Finish();
        return rate;
    }

    private static Http2LimitsConfig BindHttp2(ObjectReader reader)
    {
        var defaults = new Http2LimitsConfig();
        var http2 = new Http2LimitsConfig
        {
            MaxStreamsPerConnection = reader.Read("maxStreamsPerConnection", defaults.MaxStreamsPerConnection, ValueParsers.Int),
            InitialStreamWindowSize = reader.Read("initialStreamWindowSize", defaults.InitialStreamWindowSize, ValueParsers.Int),
            InitialConnectionWindowSize = reader.Read("initialConnectionWindowSize", defaults.InitialConnectionWindowSize, ValueParsers.Int),
            MaxControlFramesPerSecond = reader.Read("maxControlFramesPerSecond", defaults.MaxControlFramesPerSecond, ValueParsers.Int),
        };
        reader.Finish();
        return http2;
    }

    private static ProxyProtocolConfig BindProxyProtocol(ObjectReader reader)
    {
        var defaults = new ProxyProtocolConfig();
        var proxyProtocol = new ProxyProtocolConfig
        {
            Mode = reader.Read("mode", defaults.Mode, ValueParsers.ProxyProtocolMode),
            TrustedNetworks = BindNetworks(reader, "trustedNetworks"),
            Timeout = reader.Read("timeout", defaults.Timeout, ValueParsers.Duration),
        };
        reader.Finish();
        return proxyProtocol;
    }

    private static NetworkListConfig BindNetworks(ObjectReader reader, string key) =>
        NetworkListConfig.Create([.. BindList(reader, key, NetworkListConfig.Empty, BindString)]);

    // One string of a list (CIDRs); what it means is the validator's to check.
    private static string BindString(BindContext context, JsonNode? node, string path)
    {
        if (ValueParsers.String(node, context.VariableOf(node) is not null, out var value, out var error))
        {
            return value;
        }

        context.Error(path, node, error + ", such as \"10.0.0.0/8\"");
        return "";
    }
}
