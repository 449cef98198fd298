using System.Security.Cryptography;
using System.Text;
using Tether.FunctionalTests.Infrastructure;
using Tether.Upstream.Pooling;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Forwarding;

/// <summary>Every way a body can be framed, both directions, streamed intact; bodiless responses stay bodiless.</summary>
public sealed class BodyTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_chunked_response_arrives_whole_and_the_connection_is_reused()
    {
        await using var origin = RawOrigin.Serve((request, connection) => connection.WriteAsync(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
            "5\r\nhello\r\n" +
            "1;ext=1\r\n,\r\n" +
            "6\r\n world\r\n" +
            "0\r\nX-Trailer: dropped\r\n\r\n"));
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        for (var i = 0; i < 3; i++)
        {
            var response = await client.GetAsync();
            Assert.Equal(200, response.Status);
            Assert.True(response.Complete);
            Assert.Equal("hello, world", response.BodyText);
        }

        Assert.Equal(1, origin.Accepted);
        Assert.Equal(2, gateway.PoolStatistics().Reused);
    }

    [Fact]
    public async Task A_close_delimited_response_arrives_whole_and_its_connection_is_not_reused()
    {
        await using var origin = RawOrigin.Start(async connection =>
        {
            var request = await connection.ReadRequestAsync();
            await connection.WriteAsync($"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end, c{request!.ConnectionIndex}");
            connection.Close();
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        var first = await client.GetAsync();
        var second = await client.GetAsync();

        Assert.Equal("until the end, c1", first.BodyText);
        Assert.True(first.Complete);
        Assert.Equal("until the end, c2", second.BodyText);
        Assert.Equal(2, origin.Accepted);
        Assert.Equal(0, gateway.PoolStatistics().Reused);
        Assert.Equal(2, gateway.PoolStatistics().Closed(ConnectionCloseReason.ServerClose));
    }

    [Fact]
    public async Task HEAD_keeps_the_Content_Length_and_has_no_body_and_the_connections_stay_in_sync()
    {
        await using var origin = RawOrigin.Serve((request, connection) => request.Method == "HEAD"
            ? connection.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/plain\r\n\r\n")
            : connection.RespondAsync(200, "after head"));
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        await client.SendAsync(RawClient.Request("HEAD", "/file"));
        var head = await client.ReadResponseAsync(requestWasHead: true);
        var next = await client.GetAsync();

        Assert.Equal(200, head.Status);
        Assert.Equal("1234", head.Head.Get("Content-Length"));
        Assert.Equal("after head", next.BodyText);
        Assert.Equal(1, origin.Accepted);
    }

    [Theory]
    [InlineData("HTTP/1.1 204 No Content\r\nX-Kind: nothing\r\n\r\n", 204)]
    [InlineData("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 1234\r\n\r\n", 304)]
    public async Task Status_204_and_304_have_no_body_and_the_connections_stay_in_sync(string bodiless, int status)
    {
        await using var origin = RawOrigin.Serve((request, connection) => request.Target == "/empty"
            ? connection.WriteAsync(bodiless)
            : connection.RespondAsync(200, "next"));
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        var empty = await client.GetAsync("/empty");
        var next = await client.GetAsync("/next");

        output.WriteLine(empty.Head.Text);
        Assert.Equal(status, empty.Status);
        Assert.False(empty.Head.Has("Transfer-Encoding"));
        Assert.Equal("next", next.BodyText);
        Assert.Equal(1, origin.Accepted);
        Assert.Equal(1, gateway.PoolStatistics().Reused);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_one_megabyte_response_is_streamed_intact(bool chunked)
    {
        var payload = RandomNumberGenerator.GetBytes(1024 * 1024);
        await using var origin = RawOrigin.Serve(async (_, connection) =>
        {
            if (!chunked)
            {
                await connection.WriteAsync($"HTTP/1.1 200 OK\r\nContent-Length: {payload.Length}\r\n\r\n");
                await connection.WriteAsync(payload);
                return;
            }

            await connection.WriteAsync("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            for (var offset = 0; offset < payload.Length; offset += 100_000)
            {
                var size = Math.Min(100_000, payload.Length - offset);
                await connection.WriteAsync($"{size:X}\r\n");
                await connection.WriteAsync(payload.AsMemory(offset, size));
                await connection.WriteAsync("\r\n");
            }

            await connection.WriteAsync("0\r\n\r\n");
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        var response = await client.GetAsync("/big");

        Assert.Equal(200, response.Status);
        Assert.True(response.Complete);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(response.Body));
        Assert.Equal(200, (await client.GetAsync()).Status);
        Assert.Equal(1, origin.Accepted);
    }

    [Fact]
    public async Task A_POST_with_a_Content_Length_body_arrives_at_the_origin_intact()
    {
        var payload = RandomNumberGenerator.GetBytes(300_000);
        await using var origin = EchoHashOrigin();
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        await client.SendAsync(RawClient.Request("POST", "/upload", "tether.test", $"Content-Length: {payload.Length}", "Content-Type: application/octet-stream"));
        await client.SendAsync(payload);
        var response = await client.ReadResponseAsync();

        Assert.Equal(200, response.Status);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(payload)), response.BodyText);
        var seen = Assert.Single(origin.Requests);
        Assert.Equal(payload.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), seen.Head.Get("Content-Length"));
        Assert.False(seen.Head.Has("Transfer-Encoding"));
        Assert.Equal("application/octet-stream", seen.Head.Get("Content-Type"));
    }

    [Fact]
    public async Task A_POST_with_a_chunked_body_arrives_at_the_origin_intact()
    {
        var parts = new[] { "first part, ", "second part, ", new string('x', 70_000), " and the end" };
        await using var origin = EchoHashOrigin();
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        await client.SendAsync(RawClient.Request("POST", "/stream", "tether.test", "Transfer-Encoding: chunked"));
        foreach (var part in parts)
        {
            await client.SendAsync($"{part.Length:x}\r\n{part}\r\n");
            await Task.Delay(10);
        }

        await client.SendAsync("0\r\n\r\n");
        var response = await client.ReadResponseAsync();

        var expected = Encoding.ASCII.GetBytes(string.Concat(parts));
        Assert.Equal(200, response.Status);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(expected)), response.BodyText);
        var seen = Assert.Single(origin.Requests);
        Assert.True(seen.Head.HasToken("Transfer-Encoding", "chunked"));
        Assert.False(seen.Head.Has("Content-Length"));
        Assert.True(seen.BodyComplete);

        // The request body's end was found: the same connections carry the next request.
        Assert.Equal(200, (await client.GetAsync()).Status);
        Assert.Equal(1, origin.Accepted);
    }

    [Fact]
    public async Task Expect_100_continue_gets_a_100_from_Tether_and_the_origin_never_sees_Expect()
    {
        await using var origin = EchoHashOrigin();
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();
        var body = "the body, sent only after 100 Continue"u8.ToArray();

        await client.SendAsync(RawClient.Request("PUT", "/doc", "tether.test", $"Content-Length: {body.Length}", "Expect: 100-continue"));
        var interim = await client.ReadResponseAsync();
        Assert.Equal(100, interim.Status);
        Assert.Empty(origin.Requests);
        await client.SendAsync(body);
        var response = await client.ReadResponseAsync();

        Assert.Equal(200, response.Status);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(body)), response.BodyText);
        var seen = Assert.Single(origin.Requests);
        Assert.False(seen.Head.Has("Expect"));
        Assert.Equal(body, seen.Body);
    }

    [Fact]
    public async Task An_interim_100_from_the_origin_is_not_taken_for_the_response()
    {
        await using var origin = RawOrigin.Serve((_, connection) =>
            connection.WriteAsync("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal"));
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        var response = await client.GetAsync();

        Assert.Equal(200, response.Status);
        Assert.Equal("final", response.BodyText);
        Assert.Equal(200, (await client.GetAsync()).Status);
        Assert.Equal(1, origin.Accepted);
    }

    /// <summary>Answers each request with the SHA-256 of its body, in hex.</summary>
    private static RawOrigin EchoHashOrigin() => RawOrigin.Serve((request, connection) =>
        connection.RespondAsync(200, Convert.ToHexString(SHA256.HashData(request.Body))));
}
