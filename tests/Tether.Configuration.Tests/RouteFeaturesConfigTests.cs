namespace Tether.Configuration.Tests;

/// <summary>Issue 16's keys: body size, Forwarded, route matching on methods and headers, transforms, redirect,
/// respond and rate limits; defaults, parsing and every validation error naming the key and the fix.</summary>
public class RouteFeaturesConfigTests
{
    private const string Cluster = "\"clusters\": { \"api\": { \"destinations\": [\"127.0.0.1:9001\"] } }";

    private static string Route(string body) => $$"""{ "routes": [{ {{body}} }], {{Cluster}} }""";

    [Fact]
    public void Defaults()
    {
        var config = ConfigAssert.Valid(Route("\"cluster\": \"api\""));
        Assert.Equal(1024 * 1024, config.Downstream.MaxRequestBodySize);
        Assert.False(config.Downstream.AddForwarded);
        var route = config.Routes[0];
        Assert.Null(route.MaxRequestBodySize);
        Assert.Null(route.Match.Methods);
        Assert.Empty(route.Match.Headers);
        Assert.Null(route.Transforms);
        Assert.Null(route.Redirect);
        Assert.Null(route.Respond);
        Assert.Null(route.RateLimit);
    }

    [Theory]
    [InlineData("\"1m\"", 1048576)]
    [InlineData("\"512k\"", 524288)]
    [InlineData("\"2G\"", 2147483648)]
    [InlineData("\"100\"", 100)]
    [InlineData("4096", 4096)]
    [InlineData("0", 0)]
    public void Sizes_are_written_as_nginx_writes_them(string written, long bytes)
    {
        Assert.Equal(bytes, ConfigAssert.Valid($$"""{ "downstream": { "maxRequestBodySize": {{written}} } }""").Downstream.MaxRequestBodySize);
        Assert.Equal(bytes, Sizes.TryParse(Sizes.Format(bytes), out var again) ? again : -1);
    }

    [Theory]
    [InlineData("\"1.5m\"")]
    [InlineData("\"1mb\"")]
    [InlineData("\"-1\"")]
    [InlineData("-5")]
    [InlineData("true")]
    public void A_bad_size_names_the_key_and_the_syntax(string written) =>
        ConfigAssert.SingleError($$"""{ "downstream": { "maxRequestBodySize": {{written}} } }""", "downstream.maxRequestBodySize", "\"512k\"");

    [Fact]
    public void Every_key_parses_and_round_trips()
    {
        var config = ConfigAssert.Valid("""
        {
          "downstream": { "maxRequestBodySize": "10m", "addForwarded": true },
          "routes": [
            { "match": { "pathPrefix": "/api", "methods": ["GET", "POST"], "headers": [{ "name": "X-Canary", "values": ["1"] }, { "name": "X-Debug" }] },
              "cluster": "api", "maxRequestBodySize": "0",
              "transforms": { "pathRemovePrefix": "/api",
                              "requestHeaders": { "set": { "X-Real-IP": "{clientIp}", "Host": "b.internal" }, "append": { "X-Via": "tether {requestId}" }, "remove": ["Cookie"] },
                              "responseHeaders": { "set": { "X-Frame-Options": "DENY" }, "remove": ["Server"] } },
              "rateLimit": { "requestsPerSecond": 10, "burst": 20, "key": "header:X-Api-Key", "status": 503, "maxKeys": 5000 } },
            { "match": { "pathPrefix": "/old" }, "redirect": { "url": "https://example.com/new", "code": 308, "keepQuery": false } },
            { "match": { "pathPrefix": "/http" }, "redirect": { "scheme": "https" } },
            { "match": { "pathPrefix": "/health" }, "respond": { "status": 200, "body": "ok", "contentType": "text/plain" } }
          ],
          "clusters": { "api": { "destinations": ["127.0.0.1:9001"] } }
        }
        """);
        Assert.Equal(10 * 1024 * 1024, config.Downstream.MaxRequestBodySize);
        Assert.True(config.Downstream.AddForwarded);
        var api = config.Routes[0];
        Assert.Equal(["GET", "POST"], api.Match.Methods);
        Assert.Equal(["1"], api.Match.Headers[0].Values);
        Assert.Null(api.Match.Headers[1].Values);
        Assert.Equal(0, api.MaxRequestBodySize);
        Assert.Equal("/api", api.Transforms!.PathRemovePrefix);
        Assert.Equal([new HeaderValueConfig("X-Real-IP", "{clientIp}"), new HeaderValueConfig("Host", "b.internal")], api.Transforms.RequestHeaders.Set);
        Assert.Equal(["Server"], api.Transforms.ResponseHeaders.Remove);
        Assert.Equal(new RateLimitConfig { RequestsPerSecond = 10, Burst = 20, Key = "header:X-Api-Key", Status = 503, MaxKeys = 5000 }, api.RateLimit);
        Assert.Equal(308, config.Routes[1].Redirect!.Code);
        Assert.False(config.Routes[1].Redirect!.KeepQuery);
        Assert.Equal(302, config.Routes[2].Redirect!.Code);
        Assert.Equal("ok", config.Routes[3].Respond!.Body);

        var json = ConfigWriter.ToJson(config);
        Assert.Equal(json, ConfigWriter.ToJson(ConfigAssert.Valid(json)));
    }

    [Theory]
    [InlineData("\"cluster\": \"api\", \"respond\": { \"body\": \"x\" }", "routes[0]", "exactly one thing")]
    [InlineData("\"redirect\": { \"url\": \"/a\" }, \"respond\": {}", "routes[0]", "exactly one thing")]
    [InlineData("\"match\": {}", "routes[0].cluster", "or a \"redirect\" or \"respond\"")]
    [InlineData("\"cluster\": \"api\", \"maxRequestBodySize\": \"lots\"", "routes[0].maxRequestBodySize", "\"1m\"")]
    [InlineData("\"cluster\": \"api\", \"match\": { \"methods\": [] }", "routes[0].match.methods", "remove \"methods\"")]
    [InlineData("\"cluster\": \"api\", \"match\": { \"methods\": [\"get\"] }", "routes[0].match.methods[0]", "write \"GET\"")]
    [InlineData("\"cluster\": \"api\", \"match\": { \"methods\": [\"GE T\"] }", "routes[0].match.methods[0]", "a method is a token")]
    [InlineData("\"cluster\": \"api\", \"match\": { \"headers\": [{ \"name\": \"\" }] }", "routes[0].match.headers[0].name", "header's name")]
    [InlineData("\"cluster\": \"api\", \"match\": { \"headers\": [{ \"name\": \"X-A\", \"values\": [] }] }", "routes[0].match.headers[0].values", "remove \"values\"")]
    [InlineData("\"cluster\": \"api\", \"transforms\": { \"pathRemovePrefix\": \"api\" }", "routes[0].transforms.pathRemovePrefix", "starting with \"/\"")]
    [InlineData("\"cluster\": \"api\", \"transforms\": { \"pathSet\": \"/a?b\" }", "routes[0].transforms.pathSet", "no space, '?' or '#'")]
    [InlineData("\"cluster\": \"api\", \"transforms\": { \"pathSet\": \"/a\", \"pathRemovePrefix\": \"/b\" }", "routes[0].transforms.pathSet", "remove \"pathRemovePrefix\" or \"pathSet\"")]
    [InlineData("\"cluster\": \"api\", \"transforms\": { \"requestHeaders\": { \"set\": { \"Content-Length\": \"0\" } } }", "routes[0].transforms.requestHeaders.set.Content-Length", "written by Tether itself")]
    [InlineData("\"cluster\": \"api\", \"transforms\": { \"requestHeaders\": { \"set\": { \"transfer-encoding\": \"chunked\" } } }", "routes[0].transforms.requestHeaders.set.transfer-encoding", "written by Tether itself")]
    [InlineData("\"cluster\": \"api\", \"transforms\": { \"requestHeaders\": { \"remove\": [\"Connection\"] } }", "routes[0].transforms.requestHeaders.remove[0]", "written by Tether itself")]
    [InlineData("\"cluster\": \"api\", \"transforms\": { \"requestHeaders\": { \"set\": { \"X-Forwarded-For\": \"1.2.3.4\" } } }", "routes[0].transforms.requestHeaders.set.X-Forwarded-For", "forwarding header")]
    [InlineData("\"cluster\": \"api\", \"transforms\": { \"requestHeaders\": { \"remove\": [\"Host\"] } }", "routes[0].transforms.requestHeaders.remove[0]", "use requestHeaders.set to replace it")]
    [InlineData("\"cluster\": \"api\", \"transforms\": { \"requestHeaders\": { \"append\": { \"Host\": \"a\" } } }", "routes[0].transforms.requestHeaders.append.Host", "exactly one Host")]
    [InlineData("\"cluster\": \"api\", \"transforms\": { \"requestHeaders\": { \"set\": { \"X A\": \"1\" } } }", "routes[0].transforms.requestHeaders.set.X A", "a header name is a token")]
    [InlineData("\"cluster\": \"api\", \"transforms\": { \"requestHeaders\": { \"set\": { \"X-A\": \"a\\r\\nB: c\" } } }", "routes[0].transforms.requestHeaders.set.X-A", "no line break")]
    [InlineData("\"cluster\": \"api\", \"transforms\": { \"requestHeaders\": { \"set\": { \"X-A\": \"{clientIP}-{user}\" } } }", "routes[0].transforms.requestHeaders.set.X-A", "unknown variable {user}")]
    [InlineData("\"cluster\": \"api\", \"transforms\": { \"requestHeaders\": { \"set\": { \"X-A\": 5 } } }", "routes[0].transforms.requestHeaders.set.X-A", "expected a string")]
    [InlineData("\"cluster\": \"api\", \"transforms\": { \"responseHeaders\": { \"set\": { \"Content-Length\": \"1\" } } }", "routes[0].transforms.responseHeaders.set.Content-Length", "written by Tether itself")]
    [InlineData("\"cluster\": \"api\", \"transforms\": { \"responseHeaders\": { \"add\": {} } }", "routes[0].transforms.responseHeaders.add", "unknown key")]
    [InlineData("\"respond\": {}, \"transforms\": { \"pathSet\": \"/a\" }", "routes[0].transforms", "remove \"transforms\"")]
    [InlineData("\"redirect\": { \"url\": \"/a\", \"code\": 303 }", "routes[0].redirect.code", "use 301 or 308")]
    [InlineData("\"redirect\": { \"url\": \"ftp://x/a\" }", "routes[0].redirect.url", "absolute http(s) URL")]
    [InlineData("\"redirect\": { \"url\": \"//evil.example\" }", "routes[0].redirect.url", "absolute http(s) URL")]
    [InlineData("\"redirect\": { \"url\": \"/a\", \"host\": \"b\" }", "routes[0].redirect.url", "not both")]
    [InlineData("\"redirect\": {}", "routes[0].redirect", "say where to")]
    [InlineData("\"redirect\": { \"scheme\": \"ftp\" }", "routes[0].redirect.scheme", "\"http\" or \"https\"")]
    [InlineData("\"redirect\": { \"host\": \"a/b\" }", "routes[0].redirect.host", "write a host")]
    [InlineData("\"redirect\": { \"path\": \"new\" }", "routes[0].redirect.path", "starting with \"/\"")]
    [InlineData("\"respond\": { \"status\": 99 }", "routes[0].respond.status", "from 200 to 599")]
    [InlineData("\"respond\": { \"status\": 204, \"body\": \"x\" }", "routes[0].respond.body", "has no body")]
    [InlineData("\"respond\": { \"contentType\": \"\" }", "routes[0].respond.contentType", "media type")]
    [InlineData("\"cluster\": \"api\", \"rateLimit\": { }", "routes[0].rateLimit.requestsPerSecond", "at least 1")]
    [InlineData("\"cluster\": \"api\", \"rateLimit\": { \"requestsPerSecond\": 5, \"burst\": 0 }", "routes[0].rateLimit.burst", "at least 1")]
    [InlineData("\"cluster\": \"api\", \"rateLimit\": { \"requestsPerSecond\": 5, \"key\": \"cookie:s\" }", "routes[0].rateLimit.key", "\"header:NAME\"")]
    [InlineData("\"cluster\": \"api\", \"rateLimit\": { \"requestsPerSecond\": 5, \"status\": 200 }", "routes[0].rateLimit.status", "from 400 to 599")]
    [InlineData("\"cluster\": \"api\", \"rateLimit\": { \"requestsPerSecond\": 5, \"maxKeys\": 0 }", "routes[0].rateLimit.maxKeys", "from 1 to 10000000")]
    [InlineData("\"cluster\": \"api\", \"rateLimit\": { \"requestsPerSecond\": 5, \"keys\": 10 }", "routes[0].rateLimit.keys", "did you mean 'key'")]
    public void Each_bad_route_key_names_itself_and_the_fix(string routeBody, string path, string fix) =>
        ConfigAssert.SingleError(Route(routeBody), path, fix);

    [Fact]
    public void Host_may_be_set_and_a_route_may_answer_without_any_cluster()
    {
        var config = ConfigAssert.Valid("""
        { "routes": [
            { "cluster": "api", "transforms": { "requestHeaders": { "set": { "Host": "{host}" } } } },
            { "respond": { "status": 403 } } ],
          "clusters": { "api": { "destinations": ["127.0.0.1:9001"] } } }
        """);
        Assert.Equal("", config.Routes[1].Cluster);
        Assert.True(HeaderTemplate.TryParse("a{b c}{ d }{host}{", out var parts, out _));
        Assert.Equal([new TemplatePart("a{b c}{ d }", TemplateVariable.None), new TemplatePart("", TemplateVariable.Host), new TemplatePart("{", TemplateVariable.None)], parts);
    }
}
