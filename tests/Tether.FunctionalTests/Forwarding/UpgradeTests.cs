using System.Text;
using Tether.FunctionalTests.Infrastructure;
using Tether.Upstream.Pooling;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Forwarding;

/// <summary>101 Switching Protocols turns the exchange into a byte tunnel (WebSockets over HTTP/1.1).</summary>
public sealed class UpgradeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task An_upgrade_answered_with_101_becomes_a_tunnel_with_bytes_flowing_both_ways()
    {
        HttpHead? seen = null;
        var originSawClose = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var origin = RawOrigin.Start(async connection =>
        {
            seen = (await connection.ReadRequestAsync())!.Head;
            await connection.WriteAsync("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
            await connection.WriteAsync("hello from the origin;");

            // Echo until the client side ends.
            var buffer = new byte[4096];
            while (true)
            {
                var n = await connection.Socket.ReceiveAsync(buffer);
                if (n == 0)
                {
                    originSawClose.TrySetResult(true);
                    return;
                }

                await connection.WriteAsync(buffer.AsMemory(0, n));
            }
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        await client.SendAsync(RawClient.Request("GET", "/chat", "tether.test",
            "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"));
        var switching = await client.ReadResponseAsync();

        Assert.Equal(101, switching.Status);
        Assert.Equal("websocket", switching.Head.Get("Upgrade"));
        Assert.True(switching.Head.HasToken("Connection", "upgrade"));
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", switching.Head.Get("Sec-WebSocket-Accept"));
        Assert.NotNull(seen);
        Assert.True(seen.HasToken("Connection", "upgrade"), seen.Text);
        Assert.Equal("websocket", seen.Get("Upgrade"));
        Assert.Equal("dGhlIHNhbXBsZSBub25jZQ==", seen.Get("Sec-WebSocket-Key"));

        Assert.Equal("hello from the origin;", await ReadAsync(client, "hello from the origin;".Length));
        for (var i = 0; i < 3; i++)
        {
            var message = $"ping {i} " + new string('.', i * 5000);
            await client.SendAsync(message);
            Assert.Equal(message, await ReadAsync(client, message.Length));
        }

        client.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        Assert.True(await originSawClose.Task.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.True(await client.WaitForCloseAsync(TimeSpan.FromSeconds(5)));
        await Eventually.TrueAsync(() => gateway.PoolStatistics().Closed(ConnectionCloseReason.Upgraded) == 1, "the tunnel's connection was not closed as upgraded");
    }

    /// <summary>
    /// The backend ends the tunnel (here right after its 101 and a last message): Tether must end the client's
    /// connection too, not wait for the client to speak or hang up first.
    /// </summary>
    [Fact]
    public async Task When_the_backend_ends_the_tunnel_the_client_connection_is_closed()
    {
        await using var origin = RawOrigin.Start(async connection =>
        {
            await connection.ReadRequestAsync();
            await connection.WriteAsync("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nbye");
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        await client.SendAsync(RawClient.Request("GET", "/chat", "tether.test", "Connection: Upgrade", "Upgrade: websocket"));
        Assert.Equal(101, (await client.ReadResponseAsync()).Status);
        Assert.Equal("bye", await ReadAsync(client, 3));

        Assert.True(await client.WaitForCloseAsync(TimeSpan.FromSeconds(5)), "the client connection outlived the tunnel");
        await Eventually.TrueAsync(() => gateway.PoolStatistics().Closed(ConnectionCloseReason.Upgraded) == 1, "the tunnel's connection was not closed as upgraded");
        Assert.Equal(0, gateway.Pool().LeasedCount);
    }

    [Fact]
    public async Task A_101_to_a_request_that_did_not_ask_to_upgrade_is_a_502()
    {
        await using var origin = RawOrigin.Serve((_, connection) =>
            connection.WriteAsync("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"));
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        var response = await client.GetAsync();

        Assert.Equal(502, response.Status);
        Assert.Equal(502, (await client.GetAsync()).Status);
        Assert.Equal(2, origin.Accepted);
    }

    [Fact]
    public async Task An_upgrade_the_backend_declines_is_an_ordinary_response_on_a_reusable_connection()
    {
        await using var origin = RawOrigin.Serve((request, connection) =>
            connection.RespondAsync(request.Target == "/chat" ? 426 : 200, request.Target == "/chat" ? "no upgrade here" : "plain"));
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        await client.SendAsync(RawClient.Request("GET", "/chat", "tether.test", "Connection: Upgrade", "Upgrade: websocket"));
        var declined = await client.ReadResponseAsync();
        var next = await client.GetAsync("/next");

        Assert.Equal(426, declined.Status);
        Assert.Equal("no upgrade here", declined.BodyText);
        Assert.Equal("plain", next.BodyText);
        Assert.Equal(1, origin.Accepted);
    }

    [Fact]
    public async Task A_tunnel_silent_both_ways_for_tunnelIdleTimeout_is_closed_and_logged()
    {
        var originSawClose = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var origin = RawOrigin.Start(async connection =>
        {
            await connection.ReadRequestAsync();
            await connection.WriteAsync("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
            await connection.WaitForPeerCloseAsync(TimeSpan.FromSeconds(10));
            originSawClose.TrySetResult();
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, c => c with { TunnelIdleTimeout = TimeSpan.FromSeconds(1) }, output: output);
        await using var client = await gateway.ConnectAsync();

        await client.SendAsync(RawClient.Request("GET", "/chat", "tether.test", "Connection: Upgrade", "Upgrade: websocket"));
        Assert.Equal(101, (await client.ReadResponseAsync()).Status);
        var silent = System.Diagnostics.Stopwatch.StartNew();

        Assert.True(await client.WaitForCloseAsync(TimeSpan.FromSeconds(5)), "the idle tunnel was not closed");
        Assert.InRange(silent.Elapsed, TimeSpan.FromMilliseconds(950), TimeSpan.FromSeconds(4));
        await originSawClose.Task.WaitAsync(TimeSpan.FromSeconds(5));
        await Eventually.TrueAsync(() => gateway.Logs.Named("TunnelIdle").Count == 1, "the idle close was not logged");
        var log = Assert.Single(gateway.Logs.Named("TunnelIdle"));
        Assert.Contains($"destination={origin.Address}", log.Message, StringComparison.Ordinal);
        await Eventually.TrueAsync(() => gateway.PoolStatistics().Closed(ConnectionCloseReason.Upgraded) == 1, "the tunnel's connection was not closed as upgraded");
    }

    /// <summary>
    /// A client that stops reading while the backend keeps sending: once the buffers are full nothing crosses, and
    /// the idle timeout must still end the tunnel (the relay stuck in a write must not stall the watch), and so
    /// must the WebSocket pings when they are on (a ping must not wait behind the stuck write).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_tunnel_stuck_on_a_client_that_stopped_reading_is_closed(bool pings)
    {
        var originSawEnd = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var origin = RawOrigin.Start(async connection =>
        {
            await connection.ReadRequestAsync();
            await connection.WriteAsync("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
            var chunk = new byte[16 * 1024];
            try
            {
                while (true)
                {
                    await connection.Socket.SendAsync(chunk).WaitAsync(TimeSpan.FromSeconds(20));
                }
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or ObjectDisposedException)
            {
                originSawEnd.TrySetResult();
            }
        });
        await using var gateway = await TestGateway.StartAsync(
            origin.Address,
            c => c with { TunnelIdleTimeout = TimeSpan.FromSeconds(1), WebSocketPingInterval = pings ? TimeSpan.FromMilliseconds(300) : null },
            output: output);
        await using var client = await gateway.ConnectAsync();
        client.Socket.ReceiveBufferSize = 4096;
        await client.SendAsync(RawClient.Request("GET", "/chat", "tether.test", "Connection: Upgrade", "Upgrade: websocket"));
        Assert.Equal(101, (await client.ReadResponseAsync()).Status);

        // The client reads nothing more; the backend's writes fail once Tether has closed the tunnel.
        await originSawEnd.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(
            () => gateway.Logs.Named("TunnelIdle").Count + gateway.Logs.Named("TunnelPeerUnresponsive").Count == 1, "the stuck tunnel's end was not logged");
    }

    [Fact]
    public async Task Bytes_in_either_direction_keep_a_tunnel_open_past_tunnelIdleTimeout()
    {
        await using var origin = RawOrigin.Start(async connection =>
        {
            await connection.ReadRequestAsync();
            await connection.WriteAsync("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");

            // Speaks every 500 ms for 3 s, then listens; the client speaks after that.
            for (var i = 0; i < 6; i++)
            {
                await Task.Delay(500);
                await connection.WriteAsync("s");
            }

            await connection.WaitForPeerCloseAsync(TimeSpan.FromSeconds(10));
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, c => c with { TunnelIdleTimeout = TimeSpan.FromSeconds(2) }, output: output);
        await using var client = await gateway.ConnectAsync();
        await client.SendAsync(RawClient.Request("GET", "/chat", "tether.test", "Connection: Upgrade", "Upgrade: websocket"));
        Assert.Equal(101, (await client.ReadResponseAsync()).Status);

        Assert.Equal("ssssss", await ReadAsync(client, 6)); // backend to client only: 3 s, open throughout
        for (var i = 0; i < 5; i++)
        {
            await Task.Delay(500);
            await client.SendAsync("c"); // client to backend only: another 2.5 s
        }

        Assert.Empty(gateway.Logs.Named("TunnelIdle"));
        Assert.True(await client.WaitForCloseAsync(TimeSpan.FromSeconds(5)), "the tunnel was not closed once silent");
        await Eventually.TrueAsync(() => gateway.Logs.Named("TunnelIdle").Count == 1, "the idle close was not logged");
    }

    private static async Task<string> ReadAsync(RawClient client, int length)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var read = await client.Reader.ReadExactAsync(length, cts.Token);
        Assert.True(read.Complete);
        return Encoding.Latin1.GetString(read.Bytes);
    }
}
