namespace Tether.Configuration.Binding;

/// <summary>How a cluster speaks to its destinations: protocol, tls, http2.</summary>
internal static partial class ConfigBinder
{
    private static ClusterConfig BindClusterUpstream(ObjectReader reader, ClusterConfig cluster) => cluster with
    {
        Protocol = reader.Read("protocol", cluster.Protocol, ValueParsers.UpstreamProtocol),
        Tls = BindUpstreamTls(reader.Object("tls")),
        Http2 = BindUpstreamHttp2(reader.Object("http2")),
        TcpKeepAlive = reader.Read("tcpKeepAlive", Switch.On, ValueParsers.ObjectSwitch) switch
        {
            Switch.Off => null,
            Switch.On => new TcpKeepAliveConfig(),
            _ => BindTcpKeepAlive(reader.Object("tcpKeepAlive")) ?? new TcpKeepAliveConfig(),
        },
        TcpUserTimeout = reader.Read("tcpUserTimeout", cluster.TcpUserTimeout, ValueParsers.OptionalDuration),
        ReadIdleTimeout = reader.Read("readIdleTimeout", cluster.ReadIdleTimeout, ValueParsers.OptionalDuration),
    };

    private static UpstreamTlsConfig BindUpstreamTls(ObjectReader reader)
    {
        var defaults = new UpstreamTlsConfig();
        var tls = new UpstreamTlsConfig
        {
            CaFile = reader.Read("caFile", defaults.CaFile, ValueParsers.OptionalString),
            ServerName = reader.Read("serverName", defaults.ServerName, ValueParsers.OptionalString),
            Verify = reader.Read("verify", defaults.Verify, ValueParsers.Bool),
            Certificate = reader.Read("certificate", defaults.Certificate, ValueParsers.OptionalString),
            Key = reader.Read("key", defaults.Key, ValueParsers.OptionalString),
            SessionReuse = reader.Read("sessionReuse", defaults.SessionReuse, ValueParsers.Bool),
            MinVersion = reader.Read("minVersion", defaults.MinVersion, ValueParsers.TlsMinimumVersion),
        };
        reader.Finish();
        return tls;
    }

    private static Http2UpstreamConfig BindUpstreamHttp2(ObjectReader reader)
    {
        var defaults = new Http2UpstreamConfig();
        var http2 = new Http2UpstreamConfig
        {
            PingInterval = reader.Read("pingInterval", defaults.PingInterval, ValueParsers.OptionalDuration),
            PingTimeout = reader.Read("pingTimeout", defaults.PingTimeout, ValueParsers.Duration),
        };
        reader.Finish();
        return http2;
    }
}
