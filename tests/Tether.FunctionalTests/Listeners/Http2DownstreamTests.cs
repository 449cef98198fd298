using System.Net;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Listeners;

/// <summary>HTTP/2 clients (h2c, prior knowledge) in front, HTTP/1.1 keep-alive connections behind.</summary>
public sealed class Http2DownstreamTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Concurrent_HTTP_2_streams_become_HTTP_1_1_requests_with_Host_from_the_authority()
    {
        await using var origin = RawOrigin.Serve(async (request, connection) =>
        {
            await Task.Delay(50);
            await connection.RespondAsync(200, request.Target, "X-Origin: yes");
        });
        var config = TestGateway.ConfigFor(origin.Address) with
        {
            Listeners = [new ListenerConfig { Address = "127.0.0.1:0", Protocols = ListenerProtocols.Http2 }],
        };
        await using var gateway = await TestGateway.StartAsync(config, output: output);
        using var http = new HttpClient
        {
            BaseAddress = gateway.Url,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        var responses = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => http.GetAsync($"/s/{i}")));

        for (var i = 0; i < responses.Length; i++)
        {
            Assert.Equal(HttpVersion.Version20, responses[i].Version);
            Assert.Equal(HttpStatusCode.OK, responses[i].StatusCode);
            Assert.Equal($"/s/{i}", await responses[i].Content.ReadAsStringAsync());
            Assert.Equal("yes", Assert.Single(responses[i].Headers.GetValues("X-Origin")));
        }

        Assert.Equal(1, gateway.Gateway.Downstream.Accepted);
        foreach (var request in origin.Requests)
        {
            Assert.EndsWith(" HTTP/1.1", request.Head.StartLine, StringComparison.Ordinal);
            Assert.Equal([$"127.0.0.1:{gateway.Url.Port}"], request.Head.GetAll("Host"));
            Assert.False(request.Head.Headers.Any(h => h.Key.StartsWith(':')), request.Head.Text);
        }
    }

    [Fact]
    public async Task An_HTTP_2_POST_body_is_forwarded_chunked_or_with_its_length()
    {
        await using var origin = RawOrigin.Serve((request, connection) =>
            connection.RespondAsync(200, $"{request.Body.Length} {request.Head.Get("Content-Length") ?? "-"} {request.Head.Get("Transfer-Encoding") ?? "-"}"));
        var config = TestGateway.ConfigFor(origin.Address) with
        {
            Listeners = [new ListenerConfig { Address = "127.0.0.1:0", Protocols = ListenerProtocols.Http2 }],
        };
        await using var gateway = await TestGateway.StartAsync(config, output: output);
        using var http = new HttpClient
        {
            BaseAddress = gateway.Url,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        var sized = await http.PostAsync("/", new ByteArrayContent(new byte[5000]));
        var streamed = await http.PostAsync("/", new StreamContent(new MemoryStream(new byte[7000])) { Headers = { ContentLength = null } });

        Assert.Equal("5000 5000 -", await sized.Content.ReadAsStringAsync());
        Assert.Equal("7000 - chunked", await streamed.Content.ReadAsStringAsync());
    }
}
