namespace Tether.Configuration.Tests;

/// <summary>The protection keys: defaults, parsing, and errors that name the key and the fix.</summary>
public class ProtectionConfigTests
{
    [Fact]
    public void Defaults()
    {
        var d = ConfigAssert.Valid("{}").Downstream;
        Assert.Equal(240, d.MinRequestBodyRate.BytesPerSecond);
        Assert.Equal(TimeSpan.FromSeconds(5), d.MinResponseRate.Grace);
        Assert.Equal(TimeSpan.FromSeconds(10), d.TlsHandshakeTimeout);
        Assert.Equal(0, d.MaxConnectionsPerClient);
        Assert.Equal(0, d.MaxConnections);
        Assert.Equal(0, d.SendBufferSize);
        Assert.Equal(0, d.ReceiveBufferSize);
        Assert.Equal(8192, d.MaxRequestLineSize);
        Assert.Equal(32768, d.MaxRequestHeadersSize);
        Assert.Equal(100, d.MaxRequestHeaderCount);
        Assert.Equal(100, d.Http2.MaxStreamsPerConnection);
        Assert.Equal(786432, d.Http2.InitialStreamWindowSize);
        Assert.Equal(1048576, d.Http2.InitialConnectionWindowSize);
        Assert.Equal(1000, d.Http2.MaxControlFramesPerSecond);
        Assert.Empty(d.TrustedProxies);
        Assert.Equal(ProxyProtocolMode.Off, ConfigAssert.Valid("{}").Listeners[0].ProxyProtocol.Mode);
    }

    [Fact]
    public void Every_key_parses()
    {
        var config = ConfigAssert.Valid("""
        {
          "listeners": [{ "address": "127.0.0.1:8080",
                          "proxyProtocol": { "mode": "Optional", "trustedNetworks": ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"], "timeout": "3s" } }],
          "downstream": {
            "minRequestBodyRate": { "bytesPerSecond": 1000, "grace": "2s" },
            "minResponseRate": { "bytesPerSecond": 0 },
            "tlsHandshakeTimeout": "5s",
            "sendBufferSize": 65536, "receiveBufferSize": 16384,
            "maxConnectionsPerClient": 100, "maxConnections": 10000,
            "maxRequestLineSize": 4096, "maxRequestHeadersSize": 16384, "maxRequestHeaderCount": 50,
            "http2": { "maxStreamsPerConnection": 50, "initialStreamWindowSize": 65535, "initialConnectionWindowSize": 131072, "maxControlFramesPerSecond": 0 },
            "trustedProxies": ["10.0.0.0/8"]
          },
          "routes": [{ "cluster": "api" }],
          "clusters": { "api": { "destinations": ["127.0.0.1:9001"], "proxyProtocol": "v2" } }
        }
        """);
        var d = config.Downstream;
        Assert.Equal(1000, d.MinRequestBodyRate.BytesPerSecond);
        Assert.True(d.MinResponseRate.IsOff);
        Assert.Equal(100, d.MaxConnectionsPerClient);
        Assert.Equal(65536, d.SendBufferSize);
        Assert.Equal(16384, d.ReceiveBufferSize);
        Assert.Equal(50, d.Http2.MaxStreamsPerConnection);
        Assert.Equal(0, d.Http2.MaxControlFramesPerSecond);
        Assert.Equal(["10.0.0.0/8"], d.TrustedProxies);
        var proxy = config.Listeners[0].ProxyProtocol;
        Assert.Equal(ProxyProtocolMode.Optional, proxy.Mode);
        Assert.Equal(3, proxy.TrustedNetworks.Count);
        Assert.Equal(TimeSpan.FromSeconds(3), proxy.Timeout);
        Assert.Equal(ProxyProtocolVersion.V2, config.Clusters["api"].ProxyProtocol);

        // The effective config prints every key and reads back the same.
        var again = ConfigAssert.Valid(ConfigWriter.ToJson(config));
        Assert.Equal(ConfigWriter.ToJson(config), ConfigWriter.ToJson(again));
    }

    [Theory]
    [InlineData("""{ "downstream": { "maxConnectionsPerClient": -1 } }""", "downstream.maxConnectionsPerClient", "0 for unlimited")]
    [InlineData("""{ "downstream": { "maxConnections": -5 } }""", "downstream.maxConnections", "0 for unlimited")]
    [InlineData("""{ "downstream": { "maxRequestLineSize": 0 } }""", "downstream.maxRequestLineSize", "8192")]
    [InlineData("""{ "downstream": { "maxRequestHeaderCount": 0 } }""", "downstream.maxRequestHeaderCount", "100")]
    [InlineData("""{ "downstream": { "http2": { "initialStreamWindowSize": 1000 } } }""", "downstream.http2.initialStreamWindowSize", "at least 65535")]
    [InlineData("""{ "downstream": { "http2": { "maxControlFramesPerSecond": -1 } } }""", "downstream.http2.maxControlFramesPerSecond", "1000, or 0 for no limit")]
    [InlineData("""{ "downstream": { "minRequestBodyRate": { "grace": "1s" } } }""", "downstream.minRequestBodyRate.grace", "more than 1s")]
    [InlineData("""{ "downstream": { "minResponseRate": { "bytesPerSecond": -1 } } }""", "downstream.minResponseRate.bytesPerSecond", "0 to turn the check off")]
    [InlineData("""{ "downstream": { "tlsHandshakeTimeout": "0s" } }""", "downstream.tlsHandshakeTimeout", "10s")]
    [InlineData("""{ "downstream": { "sendBufferSize": 1024 } }""", "downstream.sendBufferSize", "0 (the OS default) or between 4096 and 67108864 bytes; use 65536")]
    [InlineData("""{ "downstream": { "sendBufferSize": -1 } }""", "downstream.sendBufferSize", "use 65536 (64 KiB)")]
    [InlineData("""{ "downstream": { "receiveBufferSize": 134217728 } }""", "downstream.receiveBufferSize", "between 4096 and 67108864")]
    [InlineData("""{ "downstream": { "trustedProxies": ["10.1.2.3/8"] } }""", "downstream.trustedProxies[0]", "write \"10.0.0.0/8\"")]
    [InlineData("""{ "downstream": { "trustedProxies": ["lb.example.com"] } }""", "downstream.trustedProxies[0]", "not an IP address")]
    [InlineData("""{ "listeners": [{ "address": "127.0.0.1:80", "proxyProtocol": { "mode": "required" } }] }""", "listeners[0].proxyProtocol.trustedNetworks", "load balancers")]
    [InlineData("""{ "listeners": [{ "address": "127.0.0.1:80", "proxyProtocol": { "mode": "sometimes" } }] }""", "listeners[0].proxyProtocol.mode", "\"optional\"")]
    [InlineData("""{ "listeners": [{ "address": "127.0.0.1:80", "proxyProtocol": { "mode": "optional", "trustedNetworks": ["10.0.0.0/8"], "timeout": "0s" } }] }""", "listeners[0].proxyProtocol.timeout", "5s")]
    [InlineData("""{ "downstream": { "maxConnectionsPerClent": 5 } }""", "downstream.maxConnectionsPerClent", "did you mean 'maxConnectionsPerClient'?")]
    public void Errors_name_the_key_and_the_fix(string json, string path, string fix) => ConfigAssert.SingleError(json, path, fix);

    [Fact]
    public void Cluster_proxyProtocol_must_be_off_v1_or_v2() =>
        ConfigAssert.SingleError(ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001"], "proxyProtocol": "v3" }"""), "clusters.api.proxyProtocol", "\"v2\"");
}
