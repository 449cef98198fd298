using Tether.Configuration;
using Tether.Gateway.Routing;
using Tether.Upstream.Destinations;

namespace Tether.Gateway.Tests.Routing;

/// <summary>Route matching: host (exact or wildcard, port ignored), path prefix on segment boundaries, first match wins.</summary>
public sealed class RouteTableTests : IDisposable
{
    private readonly Dictionary<string, ClusterState> _clusters = new(StringComparer.Ordinal);

    public RouteTableTests()
    {
        foreach (var name in new[] { "a", "b", "c" })
        {
            Assert.True(AddressParser.TryParseDestination("127.0.0.1:9001", 1, out var destination, out _));
            _clusters[name] = new ClusterState(name, new ClusterConfig { Destinations = [destination] }, TimeProvider.System);
        }
    }

    [Theory]
    [InlineData("/api", true)]
    [InlineData("/api/", true)]
    [InlineData("/api/v1/users", true)]
    [InlineData("/apix", false)]
    [InlineData("/ap", false)]
    [InlineData("/", false)]
    [InlineData("/other/api", false)]
    public void A_path_prefix_matches_on_segment_boundaries(string path, bool matches)
    {
        var table = Table(Route("a", pathPrefix: "/api"));

        Assert.Equal(matches ? "a" : null, table.Match("any.host", path)?.Name);
    }

    [Theory]
    [InlineData("/api/")]
    [InlineData("/api")]
    public void A_trailing_slash_on_the_prefix_does_not_change_what_matches(string prefix)
    {
        var table = Table(Route("a", pathPrefix: prefix));

        Assert.Equal("a", table.Match(null, "/api")?.Name);
        Assert.Equal("a", table.Match(null, "/api/x")?.Name);
        Assert.Null(table.Match(null, "/apix"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("/")]
    public void No_prefix_or_slash_matches_every_path(string? prefix)
    {
        var table = Table(Route("a", pathPrefix: prefix));

        Assert.Equal("a", table.Match(null, "/")?.Name);
        Assert.Equal("a", table.Match("h", "/deep/path")?.Name);
    }

    [Theory]
    [InlineData("api.example", true)]
    [InlineData("API.Example", true)]
    [InlineData("api.example:8443", true)]
    [InlineData("www.api.example", false)]
    [InlineData("api.example.org", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void An_exact_host_matches_case_insensitively_and_ignores_the_port(string? host, bool matches)
    {
        var table = Table(Route("a", host: "api.example"));

        Assert.Equal(matches ? "a" : null, table.Match(host, "/")?.Name);
    }

    [Theory]
    [InlineData("a.example.com", true)]
    [InlineData("deep.a.example.com:80", true)]
    [InlineData("example.com", false)]
    [InlineData("aexample.com", false)]
    [InlineData(".example.com", false)]
    public void A_wildcard_host_matches_subdomains_only(string host, bool matches)
    {
        var table = Table(Route("a", host: "*.example.com"));

        Assert.Equal(matches ? "a" : null, table.Match(host, "/")?.Name);
    }

    [Fact]
    public void An_IPv6_host_header_has_its_port_stripped()
    {
        var table = Table(Route("a", host: "::1"));

        Assert.Equal("a", table.Match("[::1]:8080", "/")?.Name);
        Assert.Equal("a", table.Match("[::1]", "/")?.Name);
    }

    [Fact]
    public void The_first_matching_route_wins_and_no_match_is_null()
    {
        var table = Table(
            Route("a", host: "api.example", pathPrefix: "/v1"),
            Route("b", host: "api.example"),
            Route("c", pathPrefix: "/static"));

        Assert.Equal("a", table.Match("api.example", "/v1/x")?.Name);
        Assert.Equal("b", table.Match("api.example", "/v2/x")?.Name);
        Assert.Equal("b", table.Match("api.example", "/static/x")?.Name);
        Assert.Equal("c", table.Match("www.example", "/static/x")?.Name);
        Assert.Null(table.Match("www.example", "/v1/x"));
    }

    [Fact]
    public void A_star_host_is_any_host_including_none()
    {
        var table = Table(Route("a", host: "*"));

        Assert.Equal("a", table.Match(null, "/")?.Name);
        Assert.Equal("a", table.Match("whatever", "/")?.Name);
    }

    [Fact]
    public void A_reload_that_keeps_a_routes_match_and_rate_limit_keeps_its_buckets()
    {
        var limited = Route("a", pathPrefix: "/api") with { RateLimit = new RateLimitConfig { RequestsPerSecond = 5 } };
        var first = Table(limited);
        var kept = new RouteTable([limited, Route("b")], _clusters, first);
        var changed = new RouteTable([limited with { RateLimit = limited.RateLimit with { Burst = 50 } }], _clusters, kept);

        var limiter = first.Find(null, "/api", request: null)!.RateLimiter;
        Assert.NotNull(limiter);
        Assert.Same(limiter, kept.Find(null, "/api", request: null)!.RateLimiter);
        Assert.NotSame(limiter, changed.Find(null, "/api", request: null)!.RateLimiter);
        Assert.Null(kept.Find(null, "/other", request: null)!.RateLimiter);
    }

    [Fact]
    public void A_route_that_matches_on_methods_or_headers_is_skipped_without_a_request_and_answers_need_no_cluster()
    {
        var table = Table(
            Route("a") with { Match = new RouteMatchConfig { Methods = ["POST"] } },
            new RouteConfig { Respond = new RespondConfig { Body = "x" } });

        var route = table.Find("h", "/", request: null)!;
        Assert.Null(route.Cluster);
        Assert.NotNull(route.Answer);
        Assert.Null(table.Match("h", "/"));
    }

    public void Dispose()
    {
        foreach (var cluster in _clusters.Values)
        {
            cluster.Dispose();
        }
    }

    private RouteTable Table(params RouteConfig[] routes) => new(routes, _clusters);

    private static RouteConfig Route(string cluster, string? host = null, string? pathPrefix = null) =>
        new() { Cluster = cluster, Match = new RouteMatchConfig { Host = host, PathPrefix = pathPrefix } };
}
