namespace Tether.Configuration.Tests;

/// <summary>clusters.&lt;name&gt;.protocol, .tls, .http2 and pool.maxConcurrentStreams: defaults, binding, the
/// writer, TETHER__ overrides, and the rules between protocol, destinations and proxyProtocol.</summary>
public sealed class UpstreamConfigTests
{
    private static string Cluster(string extra) =>
        ConfigAssert.WithCluster("{ \"destinations\": [\"https://10.0.0.5:8443\"], " + extra + " }");

    [Fact]
    public void Absent_keys_take_their_defaults()
    {
        var cluster = ConfigAssert.Valid(ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001"] }""")).Clusters["api"];
        Assert.Equal(UpstreamProtocol.Http1, cluster.Protocol);
        Assert.Equal(new UpstreamTlsConfig(), cluster.Tls);
        Assert.Null(cluster.Tls.CaFile);
        Assert.Null(cluster.Tls.ServerName);
        Assert.True(cluster.Tls.Verify);
        Assert.Null(cluster.Tls.Certificate);
        Assert.Null(cluster.Tls.Key);
        Assert.True(cluster.Tls.SessionReuse);
        Assert.Equal(TlsMinimumVersion.Tls12, cluster.Tls.MinVersion);
        Assert.Equal(TimeSpan.FromSeconds(30), cluster.Http2.PingInterval);
        Assert.Equal(TimeSpan.FromSeconds(20), cluster.Http2.PingTimeout);
        Assert.Equal(100, cluster.Pool.MaxConcurrentStreams);
        Assert.False(cluster.Destinations[0].UseTls);
    }

    [Fact]
    public void Every_key_is_read_and_written_back()
    {
        var config = ConfigAssert.Valid(ConfigAssert.WithCluster("""
            {
              "destinations": ["https://10.0.0.5", { "address": "https://[::1]:8443", "weight": 2 }, "http://10.0.0.6:8080"],
              "protocol": "HTTP2",
              "tls": { "serverName": "api.internal", "verify": false, "sessionReuse": false, "minVersion": "1.3" },
              "http2": { "pingInterval": "off", "pingTimeout": "5s" },
              "pool": { "maxConcurrentStreams": 0 }
            }
            """));
        var cluster = config.Clusters["api"];
        Assert.Equal(UpstreamProtocol.Http2, cluster.Protocol);
        Assert.Equal(
            new UpstreamTlsConfig { ServerName = "api.internal", Verify = false, SessionReuse = false, MinVersion = TlsMinimumVersion.Tls13 },
            cluster.Tls);
        Assert.Null(cluster.Http2.PingInterval);
        Assert.Equal(TimeSpan.FromSeconds(5), cluster.Http2.PingTimeout);
        Assert.Equal(0, cluster.Pool.MaxConcurrentStreams);
        Assert.Equal(
            [("10.0.0.5", 443, true), ("::1", 8443, true), ("10.0.0.6", 8080, false)],
            cluster.Destinations.Select(d => (d.Host, d.Port, d.UseTls)));

        var json = ConfigWriter.ToJson(config);
        Assert.Contains("\"protocol\": \"http2\"", json, StringComparison.Ordinal);
        Assert.Contains("\"minVersion\": \"1.3\"", json, StringComparison.Ordinal);
        Assert.Contains("\"pingInterval\": \"off\"", json, StringComparison.Ordinal);
        Assert.Contains("\"maxConcurrentStreams\": 0", json, StringComparison.Ordinal);
        var again = ConfigAssert.Valid(json).Clusters["api"];
        Assert.Equal(cluster.Tls, again.Tls);
        Assert.Equal(cluster.Http2, again.Http2);
        Assert.Equal(cluster.Pool, again.Pool);
        Assert.Equal(cluster.Protocol, again.Protocol);
        Assert.Equal(cluster.Destinations, again.Destinations);
    }

    [Theory]
    [InlineData("http1", UpstreamProtocol.Http1)]
    [InlineData("http2", UpstreamProtocol.Http2)]
    [InlineData("Auto", UpstreamProtocol.Auto)]
    public void Protocol_names_ignore_case(string written, UpstreamProtocol expected)
    {
        var config = ConfigAssert.Valid(Cluster($"\"protocol\": \"{written}\""));
        Assert.Equal(expected, config.Clusters["api"].Protocol);
        Assert.Contains($"\"protocol\": \"{written.ToLowerInvariant()}\"", ConfigWriter.ToJson(config), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"protocol\": \"h2\"", "clusters.api.protocol", "expected \"http1\", \"http2\" or \"auto\"", "\"h2\"")]
    [InlineData("\"protocol\": 2", "clusters.api.protocol", "expected \"http1\", \"http2\" or \"auto\", got a number", "2")]
    [InlineData("\"tls\": { \"minVersion\": \"1.1\" }", "clusters.api.tls.minVersion", "TLS 1.0 and 1.1 are not offered", "\"1.1\"")]
    [InlineData("\"tls\": { \"minVersion\": \"TLSv1.3\" }", "clusters.api.tls.minVersion", "expected \"1.2\" or \"1.3\"", "\"TLSv1.3\"")]
    [InlineData("\"tls\": { \"minVersion\": 1.3 }", "clusters.api.tls.minVersion", "write the version as a string, \"1.3\"", "1.3")]
    [InlineData("\"tls\": { \"verify\": \"no\" }", "clusters.api.tls.verify", "expected true or false", "\"no\"")]
    [InlineData("\"tls\": { \"sessionReuse\": 1 }", "clusters.api.tls.sessionReuse", "expected true or false", "1")]
    [InlineData("\"tls\": { \"caFile\": 5 }", "clusters.api.tls.caFile", "expected a string", "5")]
    [InlineData("\"tls\": \"on\"", "clusters.api.tls", "expected an object", "\"on\"")]
    [InlineData("\"tls\": { \"caFlie\": \"ca.pem\" }", "clusters.api.tls.caFlie", "did you mean 'caFile'?", "\"ca.pem\"")]
    [InlineData("\"tls\": { \"sni\": \"a\" }", "clusters.api.tls.sni", "the keys here are 'caFile', 'serverName', 'verify', 'certificate', 'key', 'sessionReuse', 'minVersion'", "\"a\"")]
    [InlineData("\"http2\": { \"pingTimout\": \"5s\" }", "clusters.api.http2.pingTimout", "did you mean 'pingTimeout'?", "\"5s\"")]
    [InlineData("\"http2\": { \"pingTimeout\": \"off\" }", "clusters.api.http2.pingTimeout", "this timeout cannot be off", "\"off\"")]
    [InlineData("\"http2\": { \"pingInterval\": 30 }", "clusters.api.http2.pingInterval", "write \"30s\" for seconds", "30")]
    [InlineData("\"pool\": { \"maxConcurrentStreams\": \"100\" }", "clusters.api.pool.maxConcurrentStreams", "write 100 without quotes", "\"100\"")]
    [InlineData("\"pool\": { \"maxConcurentStreams\": 100 }", "clusters.api.pool.maxConcurentStreams", "did you mean 'maxConcurrentStreams'?", "100")]
    [InlineData("\"protocl\": \"http2\"", "clusters.api.protocl", "did you mean 'protocol'?", "\"http2\"")]
    public void Bad_values_name_the_key_and_what_is_accepted(string extra, string path, string fix, string value)
    {
        var error = ConfigAssert.SingleError(Cluster(extra), path, fix);
        Assert.Equal(value, error.Value);
    }

    [Theory]
    [InlineData("\"pool\": { \"maxConcurrentStreams\": -1 }", "clusters.api.pool.maxConcurrentStreams", "cannot be negative; use 100, or 0 for the backend's own limit")]
    [InlineData("\"http2\": { \"pingTimeout\": \"0s\" }", "clusters.api.http2.pingTimeout", "must be more than zero; use a duration such as \"20s\"")]
    [InlineData("\"http2\": { \"pingInterval\": \"0s\" }", "clusters.api.http2.pingInterval", "must be more than zero; use a duration such as \"30s\", or \"off\"")]
    [InlineData("\"tls\": { \"serverName\": \"api internal\" }", "clusters.api.tls.serverName", "remove \"serverName\" to use each destination's host")]
    [InlineData("\"tls\": { \"serverName\": \"\" }", "clusters.api.tls.serverName", "the host name the backends' certificates are issued for")]
    [InlineData("\"tls\": { \"serverName\": \"https://api.internal\" }", "clusters.api.tls.serverName", "such as \"api.internal\"")]
    [InlineData("\"tls\": { \"caFile\": \"\" }", "clusters.api.tls.caFile", "the path is empty; give the path of the PEM CA file, or remove the key")]
    public void Out_of_range_values_are_refused(string extra, string path, string fix)
    {
        ConfigAssert.SingleError(Cluster(extra), path, fix);
    }

    [Theory]
    [InlineData("api.internal")]
    [InlineData("10.0.0.5")]
    [InlineData("2001:db8::5")]
    public void Server_name_may_be_a_host_name_or_an_IP_address(string serverName)
    {
        var cluster = ConfigAssert.Valid(Cluster($"\"tls\": {{ \"serverName\": \"{serverName}\" }}")).Clusters["api"];
        Assert.Equal(serverName, cluster.Tls.ServerName);
    }

    [Fact]
    public void Environment_variables_set_the_new_keys()
    {
        var cluster = ConfigAssert.Valid(ConfigAssert.WithCluster("""{ "destinations": ["https://10.0.0.5"] }"""),
            ("TETHER__CLUSTERS__API__PROTOCOL", "auto"),
            ("TETHER__CLUSTERS__API__TLS__VERIFY", "false"),
            ("TETHER__CLUSTERS__API__TLS__MINVERSION", "1.3"),
            ("TETHER__CLUSTERS__API__TLS__SERVERNAME", "api.internal"),
            ("TETHER__CLUSTERS__API__HTTP2__PINGINTERVAL", "off"),
            ("TETHER__CLUSTERS__API__HTTP2__PINGTIMEOUT", "3s"),
            ("TETHER__CLUSTERS__API__POOL__MAXCONCURRENTSTREAMS", "50"),
            ("TETHER__CLUSTERS__API__DESTINATIONS__1", "https://10.0.0.6:8443")).Clusters["api"];
        Assert.Equal(UpstreamProtocol.Auto, cluster.Protocol);
        Assert.False(cluster.Tls.Verify);
        Assert.Equal(TlsMinimumVersion.Tls13, cluster.Tls.MinVersion);
        Assert.Equal("api.internal", cluster.Tls.ServerName);
        Assert.Null(cluster.Http2.PingInterval);
        Assert.Equal(TimeSpan.FromSeconds(3), cluster.Http2.PingTimeout);
        Assert.Equal(50, cluster.Pool.MaxConcurrentStreams);
        Assert.Equal(("10.0.0.6", 8443, true), (cluster.Destinations[1].Host, cluster.Destinations[1].Port, cluster.Destinations[1].UseTls));
    }

    [Fact]
    public void A_bad_environment_value_names_its_variable()
    {
        var error = ConfigAssert.SingleError(ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001"] }"""),
            "clusters.api.protocol", "expected \"http1\", \"http2\" or \"auto\"", ("TETHER__CLUSTERS__API__PROTOCOL", "grpc"));
        Assert.Contains("(set by environment variable TETHER__CLUSTERS__API__PROTOCOL)", error.Message, StringComparison.Ordinal);
        Assert.Equal("\"grpc\"", error.Value);
    }

    [Fact]
    public void Auto_needs_every_destination_over_tls()
    {
        Assert.Equal(UpstreamProtocol.Auto, ConfigAssert.Valid(ConfigAssert.WithCluster(
            """{ "destinations": ["https://10.0.0.5", "https://10.0.0.6:8443"], "protocol": "auto" }""")).Clusters["api"].Protocol);

        var error = ConfigAssert.SingleError(ConfigAssert.WithCluster(
                """{ "destinations": ["https://10.0.0.5", "http://10.0.0.6:8080", { "address": "10.0.0.7:8080" }], "protocol": "auto" }"""),
            "clusters.api.protocol", "\"auto\" chooses HTTP/2 or HTTP/1.1 by ALPN, which only TLS has");
        Assert.Equal("\"auto\"", error.Value);
        Assert.Contains("destinations[1] (\"http://10.0.0.6:8080\"), destinations[2] (\"10.0.0.7:8080\") are not https://", error.Message, StringComparison.Ordinal);
        Assert.Contains("use \"http2\" for HTTP/2 without TLS (h2c, prior knowledge)", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("destinations[0]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Http2_without_tls_is_h2c_and_allowed()
    {
        var cluster = ConfigAssert.Valid(ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001", "https://10.0.0.5"], "protocol": "http2" }""")).Clusters["api"];
        Assert.Equal(UpstreamProtocol.Http2, cluster.Protocol);
    }

    [Fact]
    public void Auto_says_nothing_of_a_destination_that_did_not_parse()
    {
        var result = ConfigAssert.Parse(ConfigAssert.WithCluster("""{ "destinations": ["10.0.0.6"], "protocol": "auto" }"""));
        var error = Assert.Single(result.Errors);
        Assert.Equal("clusters.api.destinations[0]", error.Path);
    }

    [Theory]
    [InlineData("http2", "v1", "(protocol \"http2\")")]
    [InlineData("http2", "v2", "(protocol \"http2\")")]
    [InlineData("auto", "v2", "(protocol \"auto\", when the backend picks h2)")]
    public void Proxy_protocol_cannot_share_a_multiplexed_connection(string protocol, string proxyProtocol, string named)
    {
        var error = ConfigAssert.SingleError(Cluster($"\"protocol\": \"{protocol}\", \"proxyProtocol\": \"{proxyProtocol}\""),
            "clusters.api.proxyProtocol", "a PROXY header names one client, but an HTTP/2 connection");
        Assert.Equal($"\"{proxyProtocol}\"", error.Value);
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
        Assert.Contains("set \"proxyProtocol\": \"off\", or \"protocol\": \"http1\"", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http1", "v2")]
    [InlineData("http2", "off")]
    [InlineData("auto", "off")]
    public void Proxy_protocol_is_fine_with_http1_and_off_is_fine_with_any(string protocol, string proxyProtocol)
    {
        ConfigAssert.Valid(Cluster($"\"protocol\": \"{protocol}\", \"proxyProtocol\": \"{proxyProtocol}\""));
    }

    [Fact]
    public void Enum_values_built_in_code_outside_the_enum_are_refused()
    {
        var destination = new DestinationConfig { Address = "https://10.0.0.5", Host = "10.0.0.5", Port = 443, UseTls = true };
        static TetherConfig With(ClusterConfig cluster) => new()
        {
            Routes = [new RouteConfig { Cluster = "api" }],
            Clusters = new Dictionary<string, ClusterConfig> { ["api"] = cluster },
        };

        var cluster = new ClusterConfig { Destinations = [destination] };
        Assert.Empty(ConfigValidator.Validate(With(cluster)));
        ConfigAssert.SingleError(With(cluster with { Protocol = (UpstreamProtocol)7 }), "clusters.api.protocol", "use \"http1\", \"http2\" or \"auto\"");
        ConfigAssert.SingleError(With(cluster with { Tls = new UpstreamTlsConfig { MinVersion = (TlsMinimumVersion)9 } }),
            "clusters.api.tls.minVersion", "use \"1.2\" or \"1.3\"");
        ConfigAssert.SingleError(With(cluster with { Http2 = new Http2UpstreamConfig { PingTimeout = TimeSpan.Zero } }),
            "clusters.api.http2.pingTimeout", "must be more than zero");
    }
}
