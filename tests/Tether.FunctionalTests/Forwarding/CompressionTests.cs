using System.IO.Compression;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Forwarding;

/// <summary>
/// routes[].compression on real sockets: a raw origin (HTTP/1.1) or a Kestrel h2c backend (HTTP/2) answers, the
/// client sends its own Accept-Encoding and decodes the body itself (no automatic decompression).
/// </summary>
public sealed class CompressionTests(ITestOutputHelper output)
{
    private static readonly string Json = "{\"items\":[" + string.Join(",", Enumerable.Range(0, 200).Select(i => $"{{\"id\":{i},\"name\":\"item {i}\"}}")) + "]}";

    [Theory]
    [InlineData("br", "br")]
    [InlineData("gzip", "gzip")]
    [InlineData("gzip, deflate, br", "br")]
    [InlineData("gzip;q=1.0, br;q=0.5", "gzip")]
    [InlineData("br;q=0, *", "gzip")]
    [InlineData("*;q=0.2", "br")]
    public async Task A_listed_type_is_compressed_with_the_best_accepted_algorithm_and_streamed(string acceptEncoding, string expected)
    {
        await using var origin = Origin();
        await using var gateway = await StartAsync(origin.Address);
        using var http = Client(gateway);

        using var response = await GetAsync(http, "/json", acceptEncoding);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([expected], response.Content.Headers.ContentEncoding);
        Assert.Contains("Accept-Encoding", response.Headers.Vary);
        Assert.Null(response.Content.Headers.ContentLength);
        Assert.True(response.Headers.TransferEncodingChunked);
        Assert.Equal("W/\"v1\"", response.Headers.ETag?.ToString());
        var encoded = await response.Content.ReadAsByteArrayAsync();
        Assert.True(encoded.Length < Json.Length / 2, $"{encoded.Length} bytes for {Json.Length}");
        Assert.Equal(Json, Decode(expected, encoded));
    }

    [Theory]
    [InlineData("GET", "/small")]       // Content-Length below minSize
    [InlineData("GET", "/encoded")]     // already Content-Encoding: gzip
    [InlineData("GET", "/no-transform")]
    [InlineData("GET", "/range")]       // 206 with Content-Range
    [InlineData("GET", "/png")]         // a type not listed
    [InlineData("GET", "/untyped")]     // no Content-Type at all
    [InlineData("GET", "/204")]
    [InlineData("HEAD", "/json")]
    public async Task What_must_not_be_compressed_is_sent_as_the_backend_sent_it(string method, string path)
    {
        await using var origin = Origin();
        await using var gateway = await StartAsync(origin.Address);
        using var http = Client(gateway);
        using var direct = new HttpClient { BaseAddress = new Uri("http://" + origin.Address) };

        using var response = await SendAsync(http, method, path, "gzip, br");
        using var expected = await SendAsync(direct, method, path, "gzip, br");

        Assert.Equal(expected.StatusCode, response.StatusCode);
        Assert.Equal(expected.Content.Headers.ContentEncoding, response.Content.Headers.ContentEncoding);
        Assert.Equal(expected.Content.Headers.ContentLength, response.Content.Headers.ContentLength);
        Assert.Equal(await expected.Content.ReadAsByteArrayAsync(), await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("identity")]
    [InlineData("gzip;q=0, br;q=0")]
    [InlineData("deflate")]
    public async Task A_client_that_accepts_neither_gets_the_body_as_it_is_and_a_Vary(string? acceptEncoding)
    {
        await using var origin = Origin();
        await using var gateway = await StartAsync(origin.Address);
        using var http = Client(gateway);

        using var response = await GetAsync(http, "/json", acceptEncoding);

        Assert.Empty(response.Content.Headers.ContentEncoding);
        Assert.Contains("Accept-Encoding", response.Headers.Vary);
        Assert.Equal(Json.Length, response.Content.Headers.ContentLength);
        Assert.Equal(Json, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_backend_s_own_Vary_is_kept_and_not_repeated()
    {
        await using var origin = Origin();
        await using var gateway = await StartAsync(origin.Address);
        using var http = Client(gateway);

        using var response = await GetAsync(http, "/json-vary", "gzip");

        Assert.Equal(["gzip"], response.Content.Headers.ContentEncoding);
        Assert.Equal(["Origin", "Accept-Encoding"], response.Headers.Vary);
    }

    [Fact]
    public async Task A_route_without_compression_sends_no_vary_and_compresses_nothing()
    {
        await using var origin = Origin();
        await using var gateway = await TestGateway.StartAsync(TestGateway.ConfigFor(origin.Address), output: output);
        using var http = Client(gateway);

        using var response = await GetAsync(http, "/json", "gzip, br");

        Assert.Empty(response.Content.Headers.ContentEncoding);
        Assert.DoesNotContain("Accept-Encoding", response.Headers.Vary);
        Assert.Equal(Json.Length, response.Content.Headers.ContentLength);
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("br")]
    public async Task An_HTTP_2_backend_s_response_is_compressed_too(string algorithm)
    {
        await using var backend = await KestrelBackend.StartAsync(app => app.MapGet("/json", (HttpContext context) =>
        {
            context.Response.ContentType = "application/json; charset=utf-8";
            return context.Response.WriteAsync(Json);
        }));
        var config = Config(backend.Destination);
        config = config with { Clusters = new Dictionary<string, ClusterConfig> { [TestGateway.Cluster] = config.Clusters[TestGateway.Cluster] with { Protocol = UpstreamProtocol.Http2 } } };
        await using var gateway = await TestGateway.StartAsync(config, output: output);
        using var http = Client(gateway);

        using var response = await GetAsync(http, "/json", algorithm);

        Assert.Equal([algorithm], response.Content.Headers.ContentEncoding);
        Assert.Equal(Json, Decode(algorithm, await response.Content.ReadAsByteArrayAsync()));
    }

    private static TetherConfig Config(string destination)
    {
        var config = TestGateway.ConfigFor(destination);
        return config with { Routes = [config.Routes[0] with { Compression = new CompressionConfig { Enabled = true } }] };
    }

    private Task<TestGateway> StartAsync(string destination) => TestGateway.StartAsync(Config(destination), output: output);

    private static HttpClient Client(TestGateway gateway) =>
        new(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None }) { BaseAddress = gateway.Url };

    private static Task<HttpResponseMessage> GetAsync(HttpClient http, string path, string? acceptEncoding) => SendAsync(http, "GET", path, acceptEncoding);

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, string method, string path, string? acceptEncoding)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (acceptEncoding is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
        }

        return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    private static string Decode(string algorithm, byte[] encoded)
    {
        using var input = new MemoryStream(encoded);
        using Stream decoder = algorithm == "br" ? new BrotliStream(input, CompressionMode.Decompress) : new GZipStream(input, CompressionMode.Decompress);
        using var text = new StreamReader(decoder, Encoding.UTF8);
        return text.ReadToEnd();
    }

    // One response per path: the JSON above, and each case compression must leave alone.
    private static RawOrigin Origin() => RawOrigin.Serve((request, connection) => request.Target switch
    {
        "/json" when request.Method == "HEAD" => connection.WriteAsync($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {Json.Length}\r\n\r\n"),
        "/json" => connection.RespondAsync(200, Json, "Content-Type: application/json; charset=utf-8", "ETag: \"v1\""),
        "/json-vary" => connection.RespondAsync(200, Json, "Content-Type: application/json", "Vary: Origin, Accept-Encoding"),
        "/small" => connection.RespondAsync(200, "{\"ok\":true}", "Content-Type: application/json"),
        "/encoded" => connection.RespondAsync(200, Json, "Content-Type: application/json", "Content-Encoding: gzip"),
        "/no-transform" => connection.RespondAsync(200, Json, "Content-Type: application/json", "Cache-Control: public, no-transform"),
        "/range" => connection.RespondAsync(206, Json[..2000], "Content-Type: application/json", $"Content-Range: bytes 0-1999/{Json.Length}"),
        "/png" => connection.RespondAsync(200, Json, "Content-Type: image/png"),
        "/untyped" => connection.RespondAsync(200, Json),
        "/204" => connection.WriteAsync("HTTP/1.1 204 No Content\r\n\r\n"),
        _ => connection.RespondAsync(404, "no"),
    });
}
