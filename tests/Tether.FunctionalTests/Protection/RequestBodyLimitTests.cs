using System.Net;
using System.Net.Sockets;
using System.Text;
using Tether.Configuration;

namespace Tether.FunctionalTests.Protection;

/// <summary>downstream.maxRequestBodySize and routes[].maxRequestBodySize: 413, and the backend never gets a whole request.</summary>
public class RequestBodyLimitTests
{
    [Fact]
    public async Task A_Content_Length_over_the_limit_is_a_413_before_any_byte_reaches_the_backend()
    {
        await using var gateway = await ProtectionGateway.StartAsync(d => d with { MaxRequestBodySize = 1024 });
        using var client = await gateway.ConnectAsync();

        var response = await ProtectionGateway.ExchangeAsync(client, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n" + new string('a', 1025));

        Assert.StartsWith("HTTP/1.1 413 ", response, StringComparison.Ordinal);
        Assert.Contains("Connection: close", response, StringComparison.OrdinalIgnoreCase);
        var id = Header(response, "X-Request-Id");
        Assert.Contains("request id: " + id, response, StringComparison.Ordinal);
        Assert.Contains(gateway.Logs.Named("RequestBodyTooLarge"), e => e.Message.EndsWith("request=" + id, StringComparison.Ordinal));
        Assert.Equal(0, Volatile.Read(ref gateway.Origin.Connections));
        Assert.Equal(0, Interlocked.Read(ref gateway.Origin.BytesReceived));
    }

    [Fact]
    public async Task The_default_is_one_megabyte_and_a_body_at_the_limit_passes()
    {
        await using var gateway = await ProtectionGateway.StartAsync();
        using (var atLimit = await gateway.ConnectAsync())
        {
            var body = new string('a', 1024 * 1024);
            Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(atLimit, $"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {body.Length}\r\n\r\n{body}"), StringComparison.Ordinal);
        }

        using var over = await gateway.ConnectAsync();
        Assert.StartsWith("HTTP/1.1 413 ", await ProtectionGateway.ExchangeAsync(over, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n"), StringComparison.Ordinal);
        Assert.Single(gateway.Origin.Requests);
    }

    [Fact]
    public async Task A_route_sets_its_own_limit_and_zero_is_unlimited()
    {
        await using var gateway = await ProtectionGateway.StartAsync(
            d => d with { MaxRequestBodySize = 16 },
            routes: r => [r with { Match = new RouteMatchConfig { PathPrefix = "/big" }, MaxRequestBodySize = 0 }, r]);
        using var client = await gateway.ConnectAsync();

        var body = new string('b', 100_000);
        Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(client, $"POST /big/upload HTTP/1.1\r\nHost: x\r\nContent-Length: {body.Length}\r\n\r\n{body}"), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 413 ", await ProtectionGateway.ExchangeAsync(client, "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n"), StringComparison.Ordinal);
        Assert.Single(gateway.Origin.Requests);
    }

    [Fact]
    public async Task A_chunked_body_that_passes_the_limit_mid_stream_is_cut_off_and_answered_413()
    {
        await using var gateway = await ProtectionGateway.StartAsync(d => d with { MaxRequestBodySize = 1000 });
        using var client = await gateway.ConnectAsync();
        var chunk = "258\r\n" + new string('c', 600) + "\r\n"; // 0x258 = 600 bytes

        await client.SendAsync(Encoding.ASCII.GetBytes("POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk), SocketFlags.None);

        // The first 600 bytes are under the limit: they are streamed to the backend before the rest arrives.
        var deadline = Environment.TickCount64 + 5000;
        while (Interlocked.Read(ref gateway.Origin.BytesReceived) < 600 && Environment.TickCount64 < deadline)
        {
            await Task.Delay(10);
        }

        Assert.True(Interlocked.Read(ref gateway.Origin.BytesReceived) >= 600, "the first chunk never reached the backend");
        var response = await ProtectionGateway.ExchangeAsync(client, chunk + "0\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 413 ", response, StringComparison.Ordinal);
        Assert.Contains("request id: ", response, StringComparison.Ordinal);

        // The backend connection was dropped mid-body: no complete request ever landed.
        deadline = Environment.TickCount64 + 5000;
        while (Volatile.Read(ref gateway.Origin.ConnectionsEnded) < 1 && Environment.TickCount64 < deadline)
        {
            await Task.Delay(10);
        }

        Assert.Equal(1, Volatile.Read(ref gateway.Origin.ConnectionsEnded));
        Assert.Empty(gateway.Origin.Requests);
        Assert.True(Interlocked.Read(ref gateway.Origin.BytesReceived) < 1200, "more than the limit reached the backend");
    }

    [Fact]
    public async Task HTTP2_clients_get_413_for_a_declared_length_and_for_a_stream_over_the_limit()
    {
        await using var gateway = await ProtectionGateway.StartAsync(
            d => d with { MaxRequestBodySize = 1024 }, listener: l => l with { Protocols = ListenerProtocols.Http2 });
        using var http = new HttpClient(new SocketsHttpHandler()) { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        var url = $"http://127.0.0.1:{gateway.Port}/upload";

        using var declared = await http.PostAsync(url, new ByteArrayContent(new byte[2048]));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.StatusCode);
        Assert.True(declared.Headers.Contains("X-Request-Id"));
        Assert.Equal(0, Volatile.Read(ref gateway.Origin.Connections));

        using var streamed = await http.PostAsync(url, new UnknownLengthContent(4096));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamed.StatusCode);
        Assert.Empty(gateway.Origin.Requests);

        using var small = await http.PostAsync(url, new ByteArrayContent(new byte[512]));
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        Assert.Single(gateway.Origin.Requests);
    }

    // A body sent in DATA frames of 512 bytes without a content-length, as a stream is.
    private sealed class UnknownLengthContent(int length) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var piece = new byte[512];
            for (var sent = 0; sent < length; sent += piece.Length)
            {
                await stream.WriteAsync(piece);
                await stream.FlushAsync();
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    private static string Header(string response, string name)
    {
        foreach (var line in response.Split("\r\n"))
        {
            if (line.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))
            {
                return line[(name.Length + 1)..].Trim();
            }
        }

        Assert.Fail($"no {name} in {response}");
        return "";
    }
}
