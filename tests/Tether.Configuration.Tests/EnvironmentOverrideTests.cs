namespace Tether.Configuration.Tests;

public class EnvironmentOverrideTests
{
    private const string Api = """
        { "routes": [{ "cluster": "API" }],
          "clusters": { "API": { "destinations": ["127.0.0.1:9001"], "pool": { "idleTimeout": "60s" } } } }
        """;

    [Fact]
    public void Overrides_an_existing_key()
    {
        var config = ConfigAssert.Valid("""{ "downstream": { "keepAliveTimeout": "75s" } }""", ("TETHER__DOWNSTREAM__KEEPALIVETIMEOUT", "30s"));
        Assert.Equal(TimeSpan.FromSeconds(30), config.Downstream.KeepAliveTimeout);
    }

    [Fact]
    public void Inserts_an_absent_key_and_section()
    {
        var config = ConfigAssert.Valid("{}", ("TETHER__DOWNSTREAM__TCPKEEPALIVE__PROBES", "3"));
        Assert.Equal(3, config.Downstream.TcpKeepAlive!.Probes);
        Assert.Equal(TimeSpan.FromSeconds(60), config.Downstream.TcpKeepAlive.Idle);
    }

    [Fact]
    public void Matches_an_existing_cluster_name_ignoring_case()
    {
        var config = ConfigAssert.Valid(Api,
            ("TETHER__CLUSTERS__API__POOL__IDLETIMEOUT", "10s"),
            ("tether__clusters__api__loadBalancing", "roundRobin"));
        var cluster = Assert.Single(config.Clusters);
        Assert.Equal("API", cluster.Key);
        Assert.Equal(TimeSpan.FromSeconds(10), cluster.Value.Pool.IdleTimeout);
        Assert.Equal(LoadBalancingPolicyNames.RoundRobin, cluster.Value.LoadBalancing);
    }

    [Fact]
    public void Creates_a_new_cluster_lower_case()
    {
        var config = ConfigAssert.Valid("""{ "routes": [{ "cluster": "web" }] }""", ("TETHER__CLUSTERS__WEB__DESTINATIONS__0", "127.0.0.1:9101"));
        Assert.Equal("127.0.0.1", config.Clusters["web"].Destinations[0].Host);
    }

    [Fact]
    public void Array_index_replaces_or_appends()
    {
        var config = ConfigAssert.Valid("""{ "listeners": [{ "address": "127.0.0.1:8080", "protocols": "http1" }] }""",
            ("TETHER__LISTENERS__0__ADDRESS", "0.0.0.0:80"),
            ("TETHER__LISTENERS__1__ADDRESS", "0.0.0.0:81"),
            ("TETHER__LISTENERS__2__ADDRESS", "0.0.0.0:82"),
            ("TETHER__LISTENERS__10__ADDRESS", null));
        Assert.Equal(["0.0.0.0:80", "0.0.0.0:81", "0.0.0.0:82"], config.Listeners.Select(l => l.Address));
        Assert.Equal(ListenerProtocols.Http1, config.Listeners[0].Protocols);
        Assert.Equal(ListenerProtocols.Http1AndHttp2, config.Listeners[1].Protocols);
    }

    [Fact]
    public void Index_order_is_numeric()
    {
        var variables = new List<(string, string?)>();
        for (var i = 11; i >= 0; i--)
        {
            variables.Add(($"TETHER__LISTENERS__{i}__ADDRESS", $"127.0.0.1:{8000 + i}"));
        }

        var config = ConfigAssert.Valid("{}", [.. variables]);
        Assert.Equal(12, config.Listeners.Count);
        Assert.Equal("127.0.0.1:8011", config.Listeners[11].Address);
    }

    [Fact]
    public void Empty_value_sets_an_empty_string()
    {
        var config = ConfigAssert.Valid("{}", ("TETHER__ADMIN__ADDRESS", ""));
        Assert.Equal("", config.Admin.Address);
    }

    [Fact]
    public void Coerces_numbers_booleans_and_durations()
    {
        var config = ConfigAssert.Valid(Api,
            ("TETHER__DOWNSTREAM__ADVERTISEKEEPALIVE", "true"),
            ("TETHER__DOWNSTREAM__MAXREQUESTSPERCONNECTION", "50"),
            ("TETHER__DOWNSTREAM__MAXCONNECTIONLIFETIME", "off"),
            ("TETHER__CLUSTERS__API__POOL__MAXLIFETIME", "off"),
            ("TETHER__CLUSTERS__API__DESTINATIONS__0", "127.0.0.1:9009"),
            ("TETHER__CHAIN__FRONTIDLETIMEOUT", "1m"));
        Assert.True(config.Downstream.AdvertiseKeepAlive);
        Assert.Equal(50, config.Downstream.MaxRequestsPerConnection);
        Assert.Null(config.Downstream.MaxConnectionLifetime);
        Assert.Null(config.Clusters["API"].Pool.MaxLifetime);
        Assert.Equal(9009, config.Clusters["API"].Destinations[0].Port);
        Assert.Equal(TimeSpan.FromMinutes(1), config.Chain.FrontIdleTimeout);
    }

    [Fact]
    public void Ignores_other_variables()
    {
        ConfigAssert.Valid("{}", ("PATH", "/usr/bin"), ("TETHER_X", "1"), ("TETHER__", "1"));
    }

    [Theory]
    [InlineData("TETHER__DOWNSTREAM__KEEPALIVETIMEOUT", "30", "downstream.keepAliveTimeout", "write \"30s\"")]
    [InlineData("TETHER__DOWNSTREAM__MAXREQUESTSPERCONNECTION", "many", "downstream.maxRequestsPerConnection", "whole number")]
    [InlineData("TETHER__DOWNSTREAM__ADVERTISEKEEPALIVE", "yes", "downstream.advertiseKeepAlive", "true or false")]
    [InlineData("TETHER__DOWNSTREAM__KEEPALIVETIMOUT", "30s", "downstream.keepalivetimout", "did you mean 'keepAliveTimeout'?")]
    [InlineData("TETHER__LISTENERS__0__ADDRESS", "nonsense", "listeners[0].address", "write host:port")]
    public void Errors_from_variables_name_the_variable(string variable, string value, string path, string fix)
    {
        var error = ConfigAssert.SingleError("{}", path, fix, (variable, value));
        if (!path.StartsWith("listeners", StringComparison.Ordinal))
        {
            Assert.Contains($"(set by environment variable {variable})", error.Message, StringComparison.Ordinal);
            Assert.Equal($"\"{value}\"", error.Value);
        }
    }

    [Theory]
    [InlineData("TETHER__LISTENERS__5__ADDRESS", "past the end: the array has 1 element(s), so use 0 to 1")]
    [InlineData("TETHER__LISTENERS__FIRST__ADDRESS", "not an index")]
    [InlineData("TETHER__ADMIN__ADDRESS__HOST", "holds a value")]
    [InlineData("TETHER__ADMIN____ADDRESS", "exactly two underscores")]
    public void Variables_that_cannot_be_applied_are_errors_named_by_the_variable(string variable, string fix)
    {
        ConfigAssert.SingleError("""{ "listeners": [{ "address": "127.0.0.1:8080" }], "admin": { "address": "127.0.0.1:9901" } }""",
            variable, fix, (variable, "x"));
    }

    [Fact]
    public void A_failing_variable_leaves_nothing_half_applied()
    {
        // Without care, cluster "x" would be created with an empty destinations array and fail validation too.
        ConfigAssert.SingleError("{}", "TETHER__CLUSTERS__X__DESTINATIONS__3", "past the end", ("TETHER__CLUSTERS__X__DESTINATIONS__3", "a:1"));
    }
}
