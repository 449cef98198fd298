using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Http2Upstream;

/// <summary>
/// Issue 12: response trailers are forwarded, not read and thrown away. From an HTTP/1.1 chunked body's trailer
/// section and from an HTTP/2 backend's trailing HEADERS, to an HTTP/2 client as trailing HEADERS, and to an
/// HTTP/1.1 client that sent TE: trailers as a chunked trailer section.
/// </summary>
public sealed class TrailerForwardingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task HTTP_1_1_chunked_trailers_reach_an_HTTP_2_client_as_trailers()
    {
        await using var origin = RawOrigin.Serve((_, connection) => connection.WriteAsync(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum, X-Count\r\n\r\n" +
            "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc123\r\nX-Count: 2\r\n\r\n"));
        var config = TestGateway.ConfigFor(origin.Address) with { Listeners = [Http2Listener] };
        await using var gateway = await TestGateway.StartAsync(config, output: output);
        using var http = Http2Client(gateway);

        using var response = await http.GetAsync("/chunked", HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("hello world", body);
        Assert.Equal("abc123", Assert.Single(response.TrailingHeaders.GetValues("X-Checksum")));
        Assert.Equal("2", Assert.Single(response.TrailingHeaders.GetValues("X-Count")));
        Assert.False(response.Headers.Contains("X-Checksum"), "the trailer arrived as a header");
    }

    [Fact]
    public async Task HTTP_2_backend_trailers_reach_an_HTTP_2_client_and_its_TE_trailers_reaches_the_backend()
    {
        var te = new ConcurrentQueue<string>();
        await using var backend = await StartTrailerBackendAsync(te);
        var config = TestGateway.ConfigFor(backend.Destination) with { Listeners = [Http2Listener] };
        config = config with { Clusters = new Dictionary<string, ClusterConfig> { [TestGateway.Cluster] = config.Clusters[TestGateway.Cluster] with { Protocol = UpstreamProtocol.Http2 } } };
        await using var gateway = await TestGateway.StartAsync(config, output: output);
        using var http = Http2Client(gateway);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/h2") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        request.Headers.TE.ParseAdd("trailers");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal("hello", body);
        Assert.Equal("abc123", Assert.Single(response.TrailingHeaders.GetValues("x-checksum")));
        Assert.Equal(["trailers"], te);
    }

    /// <summary>Kestrel 10 cannot send trailers on an HTTP/1.1 response (SupportsTrailers() is false there), so an
    /// HTTP/1.1 client gets the body intact and no trailer, and never the trailer turned into a header. Tether's own
    /// HTTP/1.1 front path (issue 15) is where this becomes a chunked trailer section.</summary>
    [Fact]
    public async Task HTTP_2_backend_trailers_to_an_HTTP_1_1_client_leave_the_body_intact_and_never_become_headers()
    {
        await using var backend = await StartTrailerBackendAsync(new ConcurrentQueue<string>());
        await using var gateway = await TestGateway.StartAsync(backend.Destination, c => c with { Protocol = UpstreamProtocol.Http2 }, output: output);
        await using var client = await gateway.ConnectAsync();

        var response = await client.GetAsync("/h1", headers: "TE: trailers");

        Assert.Equal(200, response.Status);
        Assert.True(response.Head.HasToken("Transfer-Encoding", "chunked"), response.Head.Text);
        Assert.Equal("hello", response.BodyText);
        Assert.Null(response.Head.Get("x-checksum"));
        Assert.DoesNotContain(response.Trailers, line => line.StartsWith("x-checksum", StringComparison.OrdinalIgnoreCase));
    }

    private static ListenerConfig Http2Listener => new() { Address = "127.0.0.1:0", Protocols = ListenerProtocols.Http2 };

    private static HttpClient Http2Client(TestGateway gateway) => new()
    {
        BaseAddress = gateway.Url,
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    /// <summary>A Kestrel h2c backend answering "hello" with trailer x-checksum: abc123; records each request's TE.</summary>
    private static Task<KestrelBackend> StartTrailerBackendAsync(ConcurrentQueue<string> te) =>
        KestrelBackend.StartAsync(app => app.Run(async context =>
        {
            te.Enqueue(context.Request.Headers.TE.ToString());
            context.Response.DeclareTrailer("x-checksum");
            await context.Response.WriteAsync("hello");
            context.Response.AppendTrailer("x-checksum", "abc123");
        }));
}
