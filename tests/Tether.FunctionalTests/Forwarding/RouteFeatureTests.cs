using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Forwarding;

/// <summary>routes[].transforms, match.methods / match.headers, redirect and respond, on real sockets.</summary>
public sealed class RouteFeatureTests(ITestOutputHelper output)
{
    private static readonly TransformsConfig s_transforms = new()
    {
        PathRemovePrefix = "/api",
        RequestHeaders = new RequestHeaderTransformsConfig
        {
            Set = [new("X-Client", "ip={clientIp}"), new("Host", "backend.internal"), new("X-Req", "{requestId}")],
            Append = [new("X-Tag", "tether")],
            Remove = ["X-Secret"],
        },
        ResponseHeaders = new ResponseHeaderTransformsConfig
        {
            Set = [new("X-Frame-Options", "DENY"), new("X-Seen-Host", "{host}")],
            Remove = ["X-Powered-By"],
        },
    };

    [Fact]
    public async Task Transforms_reach_an_HTTP1_backend_and_the_client()
    {
        await using var origin = RawOrigin.Serve((request, connection) =>
            connection.RespondAsync(200, "ok", "X-Powered-By: php/5", "X-Frame-Options: SAMEORIGIN"));
        var config = TestGateway.ConfigFor(origin.Address) with
        {
            Routes = [new RouteConfig { Match = new RouteMatchConfig { PathPrefix = "/api" }, Cluster = TestGateway.Cluster, Transforms = s_transforms }],
        };
        await using var gateway = await TestGateway.StartAsync(config, output: output);
        await using var client = await gateway.ConnectAsync();

        var response = await client.GetAsync("/api/users?id=7", "front.example", "X-Secret: s3cr3t", "X-Tag: client", "X-Client: forged");

        Assert.Equal(200, response.Status);
        var request = Assert.Single(origin.Requests);
        Assert.Equal("/users?id=7", request.Target);
        Assert.Equal("ip=127.0.0.1", request.Head.Get("X-Client"));
        Assert.Equal("backend.internal", request.Head.Get("Host"));
        Assert.Equal("front.example", request.Head.Get("X-Forwarded-Host"));
        Assert.Equal(["client", "tether"], request.Head.GetAll("X-Tag"));
        Assert.False(request.Head.Has("X-Secret"));
        Assert.Single(request.Head.GetAll("Host"));
        Assert.False(string.IsNullOrEmpty(request.Head.Get("X-Req")));

        Assert.Equal("DENY", response.Head.Get("X-Frame-Options"));
        Assert.Equal("front.example", response.Head.Get("X-Seen-Host"));
        Assert.False(response.Head.Has("X-Powered-By"));

        // The prefix comes off on a segment boundary only, and the bare prefix becomes "/".
        Assert.Equal(200, (await client.GetAsync("/api")).Status);
        Assert.Equal("/", origin.Requests[1].Target);
    }

    [Fact]
    public async Task Transforms_reach_an_HTTP2_backend_and_the_client()
    {
        await using var backend = await KestrelBackend.StartAsync(app => app.Run(async context =>
        {
            var headers = context.Request.Headers;
            context.Response.Headers["X-Powered-By"] = "kestrel";
            await context.Response.WriteAsync(
                $"{context.Request.Path}{context.Request.QueryString}|{context.Request.Host}|{headers["X-Client"]}|{string.Join(",", headers["X-Tag"].ToArray())}|{headers.ContainsKey("X-Secret")}");
        }));
        var config = TestGateway.ConfigFor(backend.Destination) with
        {
            Routes = [new RouteConfig { Match = new RouteMatchConfig { PathPrefix = "/api" }, Cluster = TestGateway.Cluster, Transforms = s_transforms }],
        };
        config = config with { Clusters = new Dictionary<string, ClusterConfig> { [TestGateway.Cluster] = config.Clusters[TestGateway.Cluster] with { Protocol = UpstreamProtocol.Http2 } } };
        await using var gateway = await TestGateway.StartAsync(config, output: output);
        await using var client = await gateway.ConnectAsync();

        var response = await client.GetAsync("/api/users?id=7", "front.example", "X-Secret: s3cr3t", "X-Tag: client");

        Assert.Equal(200, response.Status);
        // HTTP/2: the appended value joins the client's in one field, a list with the same meaning (RFC 9110 §5.3).
        Assert.Equal("/users?id=7|backend.internal|ip=127.0.0.1|client, tether|False", response.BodyText);
        Assert.Equal("DENY", response.Head.Get("X-Frame-Options"));
        Assert.False(response.Head.Has("X-Powered-By"));
    }

    [Fact]
    public async Task Routes_match_on_methods_and_headers()
    {
        await using var origin = RawOrigin.Serve((request, connection) => connection.RespondAsync(200, "backend"));
        var config = TestGateway.ConfigFor(origin.Address) with
        {
            Routes =
            [
                new RouteConfig
                {
                    Match = new RouteMatchConfig { Headers = [new HeaderMatchConfig { Name = "X-Canary", Values = ["1", "yes"] }] },
                    Respond = new RespondConfig { Body = "canary" },
                },
                new RouteConfig { Match = new RouteMatchConfig { Headers = [new HeaderMatchConfig { Name = "X-Debug" }] }, Respond = new RespondConfig { Body = "debug" } },
                new RouteConfig { Match = new RouteMatchConfig { Methods = ["GET", "HEAD"] }, Cluster = TestGateway.Cluster },
            ],
        };
        await using var gateway = await TestGateway.StartAsync(config, output: output);
        await using var client = await gateway.ConnectAsync();

        Assert.Equal("canary", (await client.GetAsync("/", "h", "X-Canary: YES")).BodyText);
        Assert.Equal("backend", (await client.GetAsync("/", "h", "X-Canary: 2")).BodyText);
        Assert.Equal("debug", (await client.GetAsync("/", "h", "X-Debug: ")).BodyText);
        Assert.Equal("backend", (await client.GetAsync("/")).BodyText);
        await client.SendAsync(RawClient.Request("DELETE", "/x"));
        var delete = await client.ReadResponseAsync();
        Assert.Equal(404, delete.Status);
        Assert.True(delete.Head.Has("X-Request-Id"));
        Assert.Equal(2, origin.Requests.Count);
    }

    [Fact]
    public async Task A_route_answers_with_a_redirect_or_a_fixed_response_and_no_backend()
    {
        using var unused = new RefusingPort();
        var config = TestGateway.ConfigFor(unused.Address) with
        {
            Routes =
            [
                new RouteConfig { Match = new RouteMatchConfig { PathPrefix = "/old" }, Redirect = new RedirectConfig { Url = "https://example.com/new", Code = 301 } },
                new RouteConfig { Match = new RouteMatchConfig { PathPrefix = "/secure" }, Redirect = new RedirectConfig { Scheme = "https", Code = 308 } },
                new RouteConfig { Match = new RouteMatchConfig { PathPrefix = "/health" }, Respond = new RespondConfig { Status = 200, Body = "{\"ok\":true}", ContentType = "application/json" } },
                new RouteConfig { Match = new RouteMatchConfig { PathPrefix = "/gone" }, Respond = new RespondConfig { Status = 410, Body = "gone" } },
            ],
        };
        await using var gateway = await TestGateway.StartAsync(config, output: output);
        await using var client = await gateway.ConnectAsync();

        var moved = await client.GetAsync("/old/page?a=1&b=2", "front.example");
        Assert.Equal(301, moved.Status);
        Assert.Equal("https://example.com/new?a=1&b=2", moved.Head.Get("Location"));

        var secure = await client.GetAsync("/secure/x?q=1", "front.example:8080");
        Assert.Equal(308, secure.Status);
        Assert.Equal("https://front.example:8080/secure/x?q=1", secure.Head.Get("Location"));

        var health = await client.GetAsync("/health");
        Assert.Equal(200, health.Status);
        Assert.Equal("application/json", health.Head.Get("Content-Type"));
        Assert.Equal("{\"ok\":true}", health.BodyText);

        var gone = await client.GetAsync("/gone");
        Assert.Equal(410, gone.Status);
        Assert.Equal("gone", gone.BodyText);
        Assert.Equal(0, gateway.PoolStatistics().ConnectFailures);
        Assert.Empty(gateway.Logs.Named("UpstreamFailed"));
    }
}
