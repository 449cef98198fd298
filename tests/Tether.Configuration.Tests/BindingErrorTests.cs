namespace Tether.Configuration.Tests;

/// <summary>Errors found while reading JSON into the records: syntax, unknown keys, wrong types, bad values.</summary>
public class BindingErrorTests
{
    [Fact]
    public void Unknown_key_suggests_the_closest_known_key()
    {
        var error = ConfigAssert.SingleError(
            ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001"], "pool": { "idleTimout": "10s" } }"""),
            "clusters.api.pool.idleTimout",
            "did you mean 'idleTimeout'?");
        Assert.Equal("\"10s\"", error.Value);
    }

    [Theory]
    [InlineData("""{ "listener": [] }""", "listener", "did you mean 'listeners'?")]
    [InlineData("""{ "listeners": [{ "adress": "127.0.0.1:80" }] }""", "listeners[0].adress", "did you mean 'address'?")]
    [InlineData("""{ "downstream": { "keepAliveTimout": "5s" } }""", "downstream.keepAliveTimout", "did you mean 'keepAliveTimeout'?")]
    [InlineData("""{ "clusters": { "a": { "destinations": ["a:1"], "pool": { "maxIdle": 5 } } } }""", "clusters.a.pool.maxIdle", "did you mean 'maxIdlePerDestination'?")]
    [InlineData("""{ "chain": { "frontTimeout": "5s" } }""", "chain.frontTimeout", "did you mean 'frontIdleTimeout'?")]
    [InlineData("""{ "routes": [{ "cluster": "x", "match": { "path": "/" } }], "clusters": { "x": { "destinations": ["a:1"] } } }""",
        "routes[0].match.path", "did you mean 'pathPrefix'?")]
    [InlineData("""{ "admin": { "zzzzzz": 1 } }""", "admin.zzzzzz", "the keys here are 'address'")]
    public void Unknown_keys_are_named_with_their_path(string json, string path, string fix)
    {
        ConfigAssert.SingleError(json, path, fix);
    }

    [Theory]
    [InlineData("""{ "downstream": { "keepAliveTimeout": 65 } }""", "downstream.keepAliveTimeout", "write \"65s\"", "65")]
    [InlineData("""{ "downstream": { "keepAliveTimeout": "65" } }""", "downstream.keepAliveTimeout", "write \"65s\"", "\"65\"")]
    [InlineData("""{ "downstream": { "keepAliveTimeout": "soon" } }""", "downstream.keepAliveTimeout", "use a duration such as \"60s\"", "\"soon\"")]
    [InlineData("""{ "downstream": { "keepAliveTimeout": "off" } }""", "downstream.keepAliveTimeout", "cannot be off", "\"off\"")]
    [InlineData("""{ "downstream": { "maxConnectionLifetime": "forever" } }""", "downstream.maxConnectionLifetime", "or \"off\"", "\"forever\"")]
    [InlineData("""{ "downstream": { "maxRequestsPerConnection": "100" } }""", "downstream.maxRequestsPerConnection", "write 100 without quotes", "\"100\"")]
    [InlineData("""{ "downstream": { "maxRequestsPerConnection": 1.5 } }""", "downstream.maxRequestsPerConnection", "whole number", "1.5")]
    [InlineData("""{ "downstream": { "advertiseKeepAlive": "yes" } }""", "downstream.advertiseKeepAlive", "expected true or false", "\"yes\"")]
    [InlineData("""{ "clusters": { "a": { "destinations": ["a:1"], "pool": { "learnIdleTimeout": "on" } } } }""", "clusters.a.pool.learnIdleTimeout", "expected true or false", "\"on\"")]
    [InlineData("""{ "downstream": 5 }""", "downstream", "expected an object", "5")]
    [InlineData("""{ "listeners": {} }""", "listeners", "expected an array", "{}")]
    [InlineData("""{ "listeners": [{ "address": 8080 }] }""", "listeners[0].address", "expected a string", "8080")]
    [InlineData("""{ "listeners": [null] }""", "listeners[0]", "a listener such as", "null")]
    [InlineData("""{ "listeners": [{ "protocols": "h2" }] }""", "listeners[0].protocols", "\"http1\", \"http2\" or \"http1AndHttp2\"", "\"h2\"")]
    [InlineData("""{ "listeners": [{ "engine": "nginx" }] }""", "listeners[0].engine", "expected \"kestrel\" or \"tether\"", "\"nginx\"")]
    [InlineData("""{ "downstream": { "lingeringTimeout": 5 } }""", "downstream.lingeringTimeout", "a duration needs a unit", "5")]
    public void Wrong_types_and_values_name_path_value_and_fix(string json, string path, string fix, string value)
    {
        var error = ConfigAssert.SingleError(json, path, fix);
        Assert.Equal(value, error.Value);
    }

    [Theory]
    [InlineData("""["ftp://b:21"]""", "clusters.api.destinations[0]", "scheme \"ftp\" is not supported")]
    [InlineData("""["http://b:80/api"]""", "clusters.api.destinations[0]", "remove the path \"/api\"")]
    [InlineData("""[{ "address": "b" }]""", "clusters.api.destinations[0].address", "add a port")]
    [InlineData("""[{ "address": 9001 }]""", "clusters.api.destinations[0].address", "expected a string")]
    [InlineData("""[{ "addr": "b:1" }]""", "clusters.api.destinations[0].addr", "did you mean 'address'?")]
    [InlineData("""[9001]""", "clusters.api.destinations[0]", "expected a destination such as \"127.0.0.1:9001\"")]
    public void Bad_destinations_give_one_error_each(string destinations, string path, string fix)
    {
        var result = ConfigAssert.Parse(ConfigAssert.WithCluster($$"""{ "destinations": {{destinations}} }"""));
        Assert.Contains(result.Errors, e => e.Path == path && e.Message.Contains(fix, StringComparison.Ordinal));

        // Validation does not report the unreadable destination a second time.
        Assert.DoesNotContain(result.Errors, e => e.Path.StartsWith("clusters.api.destinations[0]", StringComparison.Ordinal)
            && e.Message.Contains("needs a host", StringComparison.Ordinal));
    }

    [Fact]
    public void Invalid_json_names_line_and_column()
    {
        var result = ConfigAssert.Parse("{\n  \"admin\": { \"address\": \"x\" }\n  \"downstream\": {}\n}");
        var error = Assert.Single(result.Errors);
        Assert.Equal("line 3, column 3", error.Path);
        Assert.StartsWith("invalid JSON: ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("LineNumber", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "(root)", "write at least {}")]
    [InlineData("[]", "(root)", "the config is a JSON object")]
    public void Empty_or_non_object_root_is_an_error(string json, string path, string fix)
    {
        ConfigAssert.SingleError(json, path, fix);
    }

    [Fact]
    public void Duplicate_keys_are_an_error_even_when_case_differs()
    {
        ConfigAssert.SingleError("""{ "admin": { "address": "127.0.0.1:1", "Address": "127.0.0.1:2" } }""",
            "admin.Address", "written twice");
    }

    [Fact]
    public void All_errors_are_collected_in_one_pass()
    {
        var result = ConfigAssert.Parse("""
            {
              "listeners": [{ "address": "127.0.0.1:8080" }, { "address": "nonsense" }],
              "downstream": { "keepAliveTimeout": 75, "requestHeadersTimout": "10s" },
              "routes": [{ "cluster": "missing" }],
              "clusters": {
                "api": { "destinations": [], "pool": { "idleTimeout": "0s", "maxIdlePerDestination": -1 } },
                "web": { "destinations": ["ftp://w:21"], "loadBalancing": "fastest" }
              },
              "admin": { "address": "127.0.0.1:8080" }
            }
            """);
        var paths = result.Errors.Select(e => e.Path).ToList();
        Assert.Equal(
            [
                "downstream.keepAliveTimeout",
                "downstream.requestHeadersTimout",
                "clusters.web.destinations[0]",
                "listeners[1].address",
                "routes[0].cluster",
                "clusters.api.destinations",
                "clusters.api.pool.maxIdlePerDestination",
                "clusters.api.pool.idleTimeout",
                "clusters.web.loadBalancing",
                "admin.address",
            ],
            paths);
    }
}
