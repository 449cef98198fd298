namespace Tether.Configuration.Tests;

public class ConfigLoaderTests
{
    [Fact]
    public void Empty_object_gives_every_default()
    {
        var config = ConfigAssert.Valid("{}");
        var listener = Assert.Single(config.Listeners);
        Assert.Equal("127.0.0.1:8080", listener.Address);
        Assert.Equal(ListenerProtocols.Http1AndHttp2, listener.Protocols);
        Assert.Null(listener.Tls);
        Assert.Equal(TimeSpan.FromSeconds(75), config.Downstream.KeepAliveTimeout);
        Assert.Equal(1000, config.Downstream.MaxRequestsPerConnection);
        Assert.Null(config.Downstream.MaxConnectionLifetime);
        Assert.Equal(TimeSpan.FromSeconds(10), config.Downstream.RequestHeadersTimeout);
        Assert.False(config.Downstream.AdvertiseKeepAlive);
        Assert.Null(config.Downstream.TcpKeepAlive);
        Assert.Empty(config.Routes);
        Assert.Empty(config.Clusters);
        Assert.Equal("127.0.0.1:9901", config.Admin.Address);
        Assert.Null(config.Chain.FrontIdleTimeout);
        Assert.Null(config.Chain.NatIdleTimeout);
    }

    [Fact]
    public void Absent_cluster_keys_take_their_defaults()
    {
        var config = ConfigAssert.Valid(ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001"] }"""));
        var cluster = config.Clusters["api"];
        Assert.Equal(LoadBalancingPolicyNames.LeastConnections, cluster.LoadBalancing);
        Assert.Equal(new PoolConfig(), cluster.Pool);
        Assert.Equal(64, cluster.Pool.MaxIdlePerDestination);
        Assert.Equal(TimeSpan.FromSeconds(60), cluster.Pool.IdleTimeout);
        Assert.Equal(TimeSpan.FromHours(1), cluster.Pool.MaxLifetime);
        Assert.Equal(new TcpKeepAliveConfig { Idle = TimeSpan.FromSeconds(60), Interval = TimeSpan.FromSeconds(10), Probes = 6 }, cluster.TcpKeepAlive);
        Assert.Null(cluster.TcpUserTimeout);
        Assert.Null(cluster.ReadIdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(60), cluster.ResponseTimeout);
        Assert.Equal(new RouteMatchConfig(), config.Routes[0].Match);
    }

    [Theory]
    [InlineData("false")]
    [InlineData("\"off\"")]
    public void Upstream_tcpKeepAlive_is_turned_off_by_false_or_off(string value)
    {
        var config = ConfigAssert.Valid(ConfigAssert.WithCluster($$"""{ "destinations": ["127.0.0.1:9001"], "tcpKeepAlive": {{value}} }"""));
        Assert.Null(config.Clusters["api"].TcpKeepAlive);
    }

    [Fact]
    public void Upstream_tcpKeepAlive_true_or_an_object_keeps_it_on()
    {
        var on = ConfigAssert.Valid(ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001"], "tcpKeepAlive": true }"""));
        Assert.Equal(new TcpKeepAliveConfig(), on.Clusters["api"].TcpKeepAlive);
        var tuned = ConfigAssert.Valid(ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001"], "tcpKeepAlive": { "idle": "20s" } }"""));
        Assert.Equal(new TcpKeepAliveConfig { Idle = TimeSpan.FromSeconds(20) }, tuned.Clusters["api"].TcpKeepAlive);
    }

    [Fact]
    public void Upstream_tcpKeepAlive_of_another_shape_is_refused()
    {
        ConfigAssert.SingleError(ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001"], "tcpKeepAlive": 5 }"""),
            "clusters.api.tcpKeepAlive", "expected an object { … }, true, or false");
    }

    [Fact]
    public void TcpUserTimeout_and_readIdleTimeout_are_read()
    {
        var config = ConfigAssert.Valid(ConfigAssert.WithCluster(
            """{ "destinations": ["127.0.0.1:9001"], "tcpUserTimeout": "30s", "readIdleTimeout": "5s", "responseTimeout": "60s" }"""));
        Assert.Equal(TimeSpan.FromSeconds(30), config.Clusters["api"].TcpUserTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), config.Clusters["api"].ReadIdleTimeout);
    }

    [Fact]
    public void A_readIdleTimeout_not_below_responseTimeout_is_refused_with_the_fix()
    {
        ConfigAssert.SingleError(ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001"], "readIdleTimeout": "60s", "responseTimeout": "60s" }"""),
            "clusters.api.readIdleTimeout", "must be below responseTimeout (1m)");
    }

    [Fact]
    public void A_tcpUserTimeout_below_a_millisecond_is_refused()
    {
        ConfigAssert.SingleError(ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001"], "tcpUserTimeout": "0s" }"""),
            "clusters.api.tcpUserTimeout", "whole milliseconds from 1ms");
    }

    [Fact]
    public void Dns_servers_are_read_and_one_that_is_not_an_ip_is_refused()
    {
        var config = ConfigAssert.Valid("""{ "dns": { "servers": ["127.0.0.1:5353"], "timeout": "1s" } }""");
        Assert.Equal(["127.0.0.1:5353"], config.Dns.Servers);
        Assert.Equal(TimeSpan.FromSeconds(1), config.Dns.Timeout);
        ConfigAssert.SingleError("""{ "dns": { "servers": ["dns.internal"] } }""", "dns.servers[0]", "a DNS server is an IP address");
    }

    [Fact]
    public void An_srv_destination_and_resolveMinInterval_are_read()
    {
        var config = ConfigAssert.Valid(ConfigAssert.WithCluster("""{ "destinations": ["srv://_http._tcp.api.test"], "resolveMinInterval": "2s" }"""));
        Assert.True(config.Clusters["api"].Destinations[0].Srv);
        Assert.Equal(TimeSpan.FromSeconds(2), config.Clusters["api"].ResolveMinInterval);
        ConfigAssert.SingleError(ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001"], "resolveMinInterval": "0s" }"""),
            "clusters.api.resolveMinInterval", "a record with TTL 0");
    }

    [Fact]
    public void DestinationsFrom_etcd_needs_etcd_endpoints_and_a_key_prefix()
    {
        var config = ConfigAssert.Valid("""
            { "etcd": { "endpoints": ["127.0.0.1:2379"] }, "routes": [{ "cluster": "api" }],
              "clusters": { "api": { "destinationsFrom": { "etcd": "/tether/clusters/api/" } } } }
            """);
        Assert.Equal("/tether/clusters/api/", config.Clusters["api"].DestinationsFrom!.Etcd);
        Assert.Equal(["127.0.0.1:2379"], config.Etcd.Endpoints);
        ConfigAssert.SingleError("""{ "routes": [{ "cluster": "api" }], "clusters": { "api": { "destinationsFrom": { "etcd": "/p/" } } } }""",
            "clusters.api.destinationsFrom", "add etcd.endpoints");
        ConfigAssert.SingleError("""
            { "etcd": { "endpoints": ["127.0.0.1:2379"] }, "routes": [{ "cluster": "api" }],
              "clusters": { "api": { "destinationsFrom": { "etcd": "p" } } } }
            """, "clusters.api.destinationsFrom.etcd", "etcd key prefix");
    }

    [Fact]
    public void A_present_tcpKeepAlive_section_fills_missing_keys_with_defaults()
    {
        var config = ConfigAssert.Valid("""{ "downstream": { "tcpKeepAlive": { "idle": "30s" } } }""");
        Assert.Equal(new TcpKeepAliveConfig { Idle = TimeSpan.FromSeconds(30) }, config.Downstream.TcpKeepAlive);
    }

    [Fact]
    public void Keys_match_case_insensitively()
    {
        var config = ConfigAssert.Valid("""
            { "Listeners": [{ "ADDRESS": "127.0.0.1:81", "protocols": "HTTP2" }],
              "downstream": { "keepalivetimeout": "30s" } }
            """);
        Assert.Equal("127.0.0.1:81", config.Listeners[0].Address);
        Assert.Equal(ListenerProtocols.Http2, config.Listeners[0].Protocols);
        Assert.Equal(TimeSpan.FromSeconds(30), config.Downstream.KeepAliveTimeout);
    }

    [Fact]
    public void Comments_and_trailing_commas_are_allowed()
    {
        var config = ConfigAssert.Valid("""
            // a comment
            { /* another */ "admin": { "address": "127.0.0.1:9000", }, }
            """);
        Assert.Equal("127.0.0.1:9000", config.Admin.Address);
    }

    [Theory]
    [InlineData("\"off\"")]
    [InlineData("null")]
    public void Optional_durations_can_be_off(string value)
    {
        var config = ConfigAssert.Valid(ConfigAssert.WithCluster(
            $$"""{ "destinations": ["127.0.0.1:9001"], "pool": { "maxLifetime": {{value}} } }"""));
        Assert.Null(config.Clusters["api"].Pool.MaxLifetime);
    }

    [Fact]
    public void Empty_admin_address_turns_the_admin_endpoint_off()
    {
        Assert.Equal("", ConfigAssert.Valid("""{ "admin": { "address": "" } }""").Admin.Address);
        Assert.Null(ConfigAssert.Valid("""{ "admin": { "address": null } }""").Admin.Address);
    }

    [Fact]
    public void Load_balancing_names_ignore_case_and_come_back_canonical()
    {
        var config = ConfigAssert.Valid(ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001"], "loadBalancing": "ROUNDROBIN" }"""));
        Assert.Equal(LoadBalancingPolicyNames.RoundRobin, config.Clusters["api"].LoadBalancing);
    }

    [Fact]
    public void Destinations_accept_string_and_object_forms()
    {
        var config = ConfigAssert.Valid(ConfigAssert.WithCluster("""
            { "destinations": [
                "127.0.0.1:9001",
                "http://backend:8080",
                "http://backend",
                "[::1]:9001",
                "localhost:9001",
                { "address": "10.0.0.1:9001", "weight": 2 },
                { "address": "http://10.0.0.2" } ] }
            """));
        var destinations = config.Clusters["api"].Destinations;
        Assert.Equal(7, destinations.Count);
        Assert.Equal(("127.0.0.1", 9001, 1), (destinations[0].Host, destinations[0].Port, destinations[0].Weight));
        Assert.Equal(("backend", 8080), (destinations[1].Host, destinations[1].Port));
        Assert.Equal(("backend", 80), (destinations[2].Host, destinations[2].Port));
        Assert.Equal(("::1", 9001), (destinations[3].Host, destinations[3].Port));
        Assert.Equal(("localhost", 9001), (destinations[4].Host, destinations[4].Port));
        Assert.Equal(("10.0.0.1", 9001, 2), (destinations[5].Host, destinations[5].Port, destinations[5].Weight));
        Assert.Equal("10.0.0.1:9001", destinations[5].Address);
        Assert.Equal(("10.0.0.2", 80, 1), (destinations[6].Host, destinations[6].Port, destinations[6].Weight));
    }

    [Fact]
    public void Missing_file_is_an_error_in_the_result()
    {
        var path = Path.Combine(Path.GetTempPath(), "tether-no-such-file-" + Guid.NewGuid() + ".json");
        var result = ConfigLoader.LoadFile(path);
        Assert.False(result.Succeeded);
        var error = Assert.Single(result.Errors);
        Assert.Equal(path, error.Path);
        Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadFile_resolves_relative_tls_paths_against_the_file_folder()
    {
        var folder = Directory.CreateTempSubdirectory("tether-config-");
        try
        {
            File.WriteAllText(Path.Combine(folder.FullName, "cert.pem"), "x");
            File.WriteAllText(Path.Combine(folder.FullName, "key.pem"), "x");
            var file = Path.Combine(folder.FullName, "tether.json");
            File.WriteAllText(file, """{ "listeners": [{ "address": "127.0.0.1:8443", "tls": { "certificate": "cert.pem", "key": "key.pem" } }] }""");

            var result = ConfigLoader.LoadFile(file);

            Assert.True(result.Succeeded, string.Join("\n", result.Errors));
            Assert.Equal(Path.Combine(folder.FullName, "cert.pem"), result.Config!.Listeners[0].Tls!.Certificate);
            Assert.Equal(Path.Combine(folder.FullName, "key.pem"), result.Config.Listeners[0].Tls!.Key);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public void Written_config_reads_back_the_same()
    {
        var config = ConfigAssert.Valid(ConfigAssert.WithCluster("""
            { "destinations": ["127.0.0.1:9001", { "address": "[::1]:9002", "weight": 5 }],
              "pool": { "idleTimeout": "4s500ms", "maxLifetime": "off" },
              "tcpKeepAlive": { "probes": 3 } }
            """));
        var json = ConfigWriter.ToJson(config);
        var again = ConfigAssert.Valid(json);
        Assert.Equal(json, ConfigWriter.ToJson(again));
        Assert.Equal(config.Clusters["api"].Pool, again.Clusters["api"].Pool);
        Assert.Equal(config.Downstream, again.Downstream);
    }
}
