namespace Tether.Configuration.Tests;

/// <summary>Semantic checks, on configs built in code (as the gateway's tests do) and parsed from JSON.</summary>
public class ConfigValidatorTests
{
    private static readonly ClusterConfig _api = new()
    {
        Destinations = [new DestinationConfig { Address = "127.0.0.1:9001", Host = "127.0.0.1", Port = 9001 }],
    };

    private static TetherConfig Config(ClusterConfig? cluster = null, params RouteConfig[] routes) => new()
    {
        Routes = routes.Length == 0 ? [new RouteConfig { Cluster = "api" }] : routes,
        Clusters = new Dictionary<string, ClusterConfig> { ["api"] = cluster ?? _api },
    };

    [Fact]
    public void A_config_built_in_code_with_defaults_is_valid()
    {
        Assert.Empty(ConfigValidator.Validate(new TetherConfig()));
        Assert.Empty(ConfigValidator.Validate(Config()));
    }

    [Fact]
    public void No_listeners()
    {
        ConfigAssert.SingleError(new TetherConfig { Listeners = [] }, "listeners", "add at least one listener");
        ConfigAssert.SingleError("""{ "listeners": [] }""", "listeners", "add at least one listener");
    }

    [Theory]
    [InlineData("8080", "add a port")]
    [InlineData("127.0.0.1:70000", "use a number from 1 to 65535")]
    [InlineData("::1:80", "in brackets")]
    public void Listener_address_must_parse(string address, string fix)
    {
        var error = ConfigAssert.SingleError(new TetherConfig { Listeners = [new ListenerConfig { Address = address }] }, "listeners[0].address", fix);
        Assert.Equal($"\"{address}\"", error.Value);
    }

    [Fact]
    public void Port_zero_means_any_free_port_and_is_accepted_for_listeners_and_admin()
    {
        var config = new TetherConfig
        {
            Listeners = [new ListenerConfig { Address = "127.0.0.1:0" }, new ListenerConfig { Address = "127.0.0.1:0" }],
            Admin = new AdminConfig { Address = "127.0.0.1:0" },
        };
        Assert.Empty(ConfigValidator.Validate(config));
    }

    [Fact]
    public void Engine_tether_is_the_default_and_takes_every_protocol_tls_and_PROXY_headers()
    {
        // On cleartext "http1AndHttp2" the engine reads the PROXY header and hands an h2c connection over with it.
        var mixed = ConfigAssert.Valid("""{ "listeners": [{ "address": "127.0.0.1:80", "engine": "tether", "proxyProtocol": { "mode": "required", "trustedNetworks": ["10.0.0.0/8"] } }] }""");
        Assert.Equal(ListenerProtocols.Http1AndHttp2, mixed.Listeners[0].Protocols);

        // HTTP/2 and TLS connections are handed to Kestrel, which reads their PROXY header as on a Kestrel listener.
        var handedOver = ConfigAssert.Valid("""
            { "listeners": [
                { "address": "127.0.0.1:80", "engine": "tether" },
                { "address": "127.0.0.1:81", "protocols": "http2", "engine": "tether", "proxyProtocol": { "mode": "required", "trustedNetworks": ["10.0.0.0/8"] } } ] }
            """);
        Assert.All(handedOver.Listeners, l => Assert.Equal(ListenerEngine.Tether, l.Engine));
        var tls = new ListenerConfig
        {
            Address = "127.0.0.1:443",
            Engine = ListenerEngine.Tether,
            Tls = new TlsConfig { Certificate = "/nonexistent/cert.pem", Key = "/nonexistent/key.pem" },
            ProxyProtocol = new ProxyProtocolConfig { Mode = ProxyProtocolMode.Required, TrustedNetworks = ["10.0.0.0/8"] },
        };
        Assert.DoesNotContain(ConfigValidator.Validate(new TetherConfig { Listeners = [tls] }), e => e.Path.EndsWith(".engine", StringComparison.Ordinal));

        // On cleartext "http1" the engine reads the PROXY header itself.
        var proxied = ConfigAssert.Valid("""
            { "listeners": [{ "address": "127.0.0.1:80", "protocols": "http1", "engine": "tether",
                              "proxyProtocol": { "mode": "required", "trustedNetworks": ["10.0.0.0/8"] } }] }
            """);
        Assert.Equal(ProxyProtocolMode.Required, proxied.Listeners[0].ProxyProtocol.Mode);

        var config = ConfigAssert.Valid("""{ "listeners": [{ "address": "127.0.0.1:80", "protocols": "http1", "engine": "Tether" }], "downstream": { "lingeringTimeout": "2s" } }""");
        Assert.Equal(ListenerEngine.Tether, config.Listeners[0].Engine);
        Assert.Equal(TimeSpan.FromSeconds(2), config.Downstream.LingeringTimeout);
        Assert.Equal(ListenerEngine.Tether, new ListenerConfig().Engine);
        Assert.Equal(ListenerEngine.Tether, ConfigAssert.Valid("""{ "listeners": [{ "address": "127.0.0.1:80" }] }""").Listeners[0].Engine);
        Assert.Equal(ListenerEngine.Kestrel, ConfigAssert.Valid("""{ "listeners": [{ "address": "127.0.0.1:80", "engine": "kestrel" }] }""").Listeners[0].Engine);
    }

    [Fact]
    public void Duplicate_listener_addresses()
    {
        ConfigAssert.SingleError("""{ "listeners": [{ "address": "[::1]:80" }, { "address": "[::1]:80", "protocols": "http1" }] }""",
            "listeners[1].address", "listeners[0].address already listens on this address");
        ConfigAssert.SingleError("""{ "listeners": [{ "address": "LOCALHOST:80" }, { "address": "localhost:80" }] }""",
            "listeners[1].address", "give each listener its own address");
    }

    [Fact]
    public void Admin_address_cannot_be_a_listener_address()
    {
        ConfigAssert.SingleError("""{ "listeners": [{ "address": "127.0.0.1:9901" }] }""", "admin.address", "give the admin endpoint its own port");
        ConfigAssert.SingleError("""{ "admin": { "address": "nope" } }""", "admin.address", "write host:port such as \"127.0.0.1:9901\"");
    }

    [Fact]
    public void Tls_needs_both_files_and_they_must_exist()
    {
        ConfigAssert.SingleError(
            new TetherConfig { Listeners = [new ListenerConfig { Tls = new TlsConfig { Certificate = "", Key = "" } }] },
            "listeners[0].tls", "add \"certificate\" and \"key\"");

        var missing = Path.Combine(Path.GetTempPath(), "tether-missing-" + Guid.NewGuid() + ".pem");
        var existing = Path.GetTempFileName();
        try
        {
            var config = new TetherConfig { Listeners = [new ListenerConfig { Tls = new TlsConfig { Certificate = existing, Key = missing } }] };
            var error = ConfigAssert.SingleError(config, "listeners[0].tls.key", "does not exist");
            Assert.Contains(missing, error.Message, StringComparison.Ordinal);

            var both = new TetherConfig { Listeners = [new ListenerConfig { Tls = new TlsConfig { Certificate = existing, Key = existing } }] };
            Assert.Empty(ConfigValidator.Validate(both));
        }
        finally
        {
            File.Delete(existing);
        }
    }

    [Fact]
    public void Tls_key_missing_is_named()
    {
        var existing = Path.GetTempFileName();
        try
        {
            var config = new TetherConfig { Listeners = [new ListenerConfig { Tls = new TlsConfig { Certificate = existing } }] };
            ConfigAssert.SingleError(config, "listeners[0].tls.key", "TLS needs both a certificate and a key");
        }
        finally
        {
            File.Delete(existing);
        }
    }

    [Fact]
    public void Http2_without_tls_is_allowed_silently()
    {
        Assert.Empty(ConfigValidator.Validate(new TetherConfig { Listeners = [new ListenerConfig { Protocols = ListenerProtocols.Http2 }] }));
    }

    [Fact]
    public void Route_to_a_missing_cluster_lists_the_defined_ones()
    {
        var error = ConfigAssert.SingleError(Config(null, new RouteConfig { Cluster = "API" }), "routes[0].cluster", "no cluster named \"API\"");
        Assert.Contains("the defined clusters are \"api\"", error.Message, StringComparison.Ordinal);

        ConfigAssert.SingleError(new TetherConfig { Routes = [new RouteConfig { Cluster = "api" }] }, "routes[0].cluster", "add one under \"clusters\"");
        ConfigAssert.SingleError(Config(null, new RouteConfig()), "routes[0].cluster", "add \"cluster\": \"api\"");
    }

    [Fact]
    public void Route_match_values_are_checked()
    {
        ConfigAssert.SingleError(Config(null, new RouteConfig { Cluster = "api", Match = new RouteMatchConfig { PathPrefix = "api" } }),
            "routes[0].match.pathPrefix", "write \"/api\"");
        ConfigAssert.SingleError(Config(null, new RouteConfig { Cluster = "api", Match = new RouteMatchConfig { Host = "" } }),
            "routes[0].match.host", "remove \"host\" to match any host");
    }

    [Fact]
    public void An_unreferenced_cluster_is_not_an_error()
    {
        var config = Config() with { Clusters = new Dictionary<string, ClusterConfig> { ["api"] = _api, ["spare"] = _api } };
        Assert.Empty(ConfigValidator.Validate(config));
    }

    [Fact]
    public void A_cluster_needs_destinations()
    {
        ConfigAssert.SingleError(Config(new ClusterConfig()), "clusters.api.destinations", "add at least one destination such as \"127.0.0.1:9001\"");
    }

    [Fact]
    public void Destination_built_in_code_without_a_host_is_reported()
    {
        var cluster = new ClusterConfig { Destinations = [new DestinationConfig { Address = "127.0.0.1:9001" }] };
        ConfigAssert.SingleError(Config(cluster), "clusters.api.destinations[0]", "AddressParser.TryParseDestination");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1001)]
    public void Weight_is_1_to_1000(int weight)
    {
        var cluster = _api with { Destinations = [_api.Destinations[0] with { Weight = weight }] };
        ConfigAssert.SingleError(Config(cluster), "clusters.api.destinations[0].weight", "use a weight from 1 to 1000");
        ConfigAssert.SingleError(
            ConfigAssert.WithCluster($$"""{ "destinations": [{ "address": "127.0.0.1:9001", "weight": {{weight}} }] }"""),
            "clusters.api.destinations[0].weight", "use a weight from 1 to 1000");
    }

    [Fact]
    public void Unknown_load_balancing_policy_lists_the_known_ones()
    {
        var error = ConfigAssert.SingleError(Config(_api with { LoadBalancing = "fastest" }), "clusters.api.loadBalancing", "use one of");
        foreach (var name in LoadBalancingPolicyNames.All)
        {
            Assert.Contains($"\"{name}\"", error.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("maxIdlePerDestination")]
    [InlineData("maxRequestsPerConnection")]
    [InlineData("maxConnectionsPerDestination")]
    [InlineData("maxQueuePerDestination")]
    public void Pool_numbers_cannot_be_negative(string key)
    {
        ConfigAssert.SingleError(
            ConfigAssert.WithCluster($$"""{ "destinations": ["127.0.0.1:9001"], "pool": { "{{key}}": -1 } }"""),
            "clusters.api.pool." + key, "cannot be negative; use ");
    }

    [Fact]
    public void Tunnel_idle_timeout_is_a_duration_or_off_but_not_zero()
    {
        var off = ConfigAssert.Valid(ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001"], "tunnelIdleTimeout": "off" }"""));
        Assert.Null(off.Clusters["api"].TunnelIdleTimeout);
        var set = ConfigAssert.Valid(ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001"], "tunnelIdleTimeout": "10m" }"""));
        Assert.Equal(TimeSpan.FromMinutes(10), set.Clusters["api"].TunnelIdleTimeout);
        Assert.Equal(TimeSpan.FromHours(1), new ClusterConfig().TunnelIdleTimeout);
        ConfigAssert.SingleError(
            ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001"], "tunnelIdleTimeout": "0s" }"""), "clusters.api.tunnelIdleTimeout", "or \"off\"");
    }

    [Fact]
    public void WebSocket_ping_interval_is_off_by_default_and_a_duration_when_set()
    {
        Assert.Null(new ClusterConfig().WebSocketPingInterval);
        var set = ConfigAssert.Valid(ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001"], "webSocketPingInterval": "30s" }"""));
        Assert.Equal(TimeSpan.FromSeconds(30), set.Clusters["api"].WebSocketPingInterval);
        ConfigAssert.SingleError(
            ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001"], "webSocketPingInterval": "0s" }"""), "clusters.api.webSocketPingInterval", "such as \"30s\", or \"off\"");
    }

    [Fact]
    public void Excess_idle_timeout_cannot_be_negative()
    {
        var error = ConfigAssert.SingleError(
            Config(_api with { Pool = _api.Pool with { ExcessIdleTimeout = TimeSpan.FromSeconds(-1) } }), "clusters.api.pool.excessIdleTimeout", "must not be negative");
        Assert.Contains("\"2s\" or \"0s\"", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"pool\": { \"idleTimeout\": \"0s\" }", "pool.idleTimeout")]
    [InlineData("\"pool\": { \"connectTimeout\": \"0s\" }", "pool.connectTimeout")]
    [InlineData("\"responseTimeout\": \"0\"", "responseTimeout")]
    public void Cluster_timeouts_must_be_more_than_zero(string setting, string key)
    {
        var json = ConfigAssert.WithCluster($$"""{ "destinations": ["127.0.0.1:9001"], {{setting}} }""");
        var error = ConfigAssert.SingleError(json, "clusters.api." + key, "must be more than zero; use a duration such as \"");
        Assert.Equal("\"0s\"", error.Value);
    }

    [Theory]
    [InlineData("keepAliveTimeout")]
    [InlineData("requestHeadersTimeout")]
    public void Downstream_timeouts_must_be_more_than_zero(string key)
    {
        ConfigAssert.SingleError($$"""{ "downstream": { "{{key}}": "0s" } }""", "downstream." + key, "must be more than zero; use a duration such as");
    }

    [Fact]
    public void Zero_is_allowed_where_it_means_something()
    {
        var config = ConfigAssert.Valid(ConfigAssert.WithCluster("""
            { "destinations": ["127.0.0.1:9001"],
              "pool": { "maxIdlePerDestination": 0, "excessIdleTimeout": "0s", "learnIdleTimeout": false, "maxRequestsPerConnection": 0, "maxLifetime": "0s", "queueTimeout": "0s" } }
            """));
        Assert.Equal(TimeSpan.Zero, config.Clusters["api"].Pool.MaxLifetime);
        Assert.Equal(TimeSpan.Zero, config.Clusters["api"].Pool.ExcessIdleTimeout);
        Assert.False(config.Clusters["api"].Pool.LearnIdleTimeout);
        Assert.True(new PoolConfig().LearnIdleTimeout);
    }

    [Fact]
    public void Optional_timeouts_that_are_set_must_be_more_than_zero()
    {
        ConfigAssert.SingleError("""{ "downstream": { "maxConnectionLifetime": "0s" } }""", "downstream.maxConnectionLifetime", "or \"off\"");
        ConfigAssert.SingleError("""{ "chain": { "natIdleTimeout": "0" } }""", "chain.natIdleTimeout", "or \"off\"");
    }

    [Theory]
    [InlineData("idle", "\"500ms\"", "from 1s to 32767s")]
    [InlineData("interval", "\"0s\"", "from 1s to 32767s")]
    [InlineData("idle", "\"10h\"", "from 1s to 32767s")]
    [InlineData("probes", "0", "from 1 to 127")]
    [InlineData("probes", "128", "from 1 to 127")]
    public void Tcp_keepalive_within_linux_limits(string key, string value, string fix)
    {
        ConfigAssert.SingleError($$"""{ "downstream": { "tcpKeepAlive": { "{{key}}": {{value}} } } }""", "downstream.tcpKeepAlive." + key, fix);
        ConfigAssert.SingleError(
            ConfigAssert.WithCluster($$"""{ "destinations": ["127.0.0.1:9001"], "tcpKeepAlive": { "{{key}}": {{value}} } }"""),
            "clusters.api.tcpKeepAlive." + key, fix);
    }
}
