using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Forwarding;

/// <summary>
/// clusters.*.webSocketPingInterval on real sockets: Tether pings each silent side of a WebSocket tunnel between
/// frames (unmasked to the client, masked to the backend), each side's Pong crosses to the other, and a side that
/// stays silent after a ping ends the tunnel.
/// </summary>
public sealed class WebSocketKeepAliveTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_interval = TimeSpan.FromMilliseconds(400);
    private const string Switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";

    [Fact]
    public async Task Each_silent_side_is_pinged_and_the_pongs_cross_while_the_tunnel_stays_open()
    {
        var originGotPing = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        var originGotClientPong = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var origin = RawOrigin.Start(async connection =>
        {
            await connection.ReadRequestAsync();
            await connection.WriteAsync(Switching);
            while (await ReadFrameAsync(connection.Reader) is { } frame)
            {
                if (frame[0] == 0x89)
                {
                    originGotPing.TrySetResult(frame);
                    await connection.WriteAsync(new byte[] { 0x8A, 0x00 }); // a server's Pong: unmasked
                }
                else if (frame[0] == 0x8A)
                {
                    originGotClientPong.TrySetResult();
                }
            }
        });
        await using var gateway = await StartAsync(origin.Address);
        await using var client = await UpgradeAsync(gateway);

        // Tether pings the client like a server would: FIN + Ping, no mask, no payload.
        Assert.Equal(new byte[] { 0x89, 0x00 }, await ReadFrameAsync(client.Reader, TimeSpan.FromSeconds(5)));
        await client.SendAsync(new byte[] { 0x8A, 0x80, 1, 2, 3, 4 }); // the client's Pong: masked

        // Tether pinged the backend like a client would: masked, no payload; the client's Pong crossed to it.
        var ping = await originGotPing.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(6, ping.Length);
        Assert.Equal(0x80, ping[1]);
        await originGotClientPong.Task.WaitAsync(TimeSpan.FromSeconds(5));

        // The backend's Pong crossed to the client; both keep answering, so the tunnel outlives several intervals.
        var answered = 0;
        var until = DateTime.UtcNow + (s_interval * 5);
        while (DateTime.UtcNow < until)
        {
            var frame = await ReadFrameAsync(client.Reader, TimeSpan.FromSeconds(5));
            Assert.NotNull(frame);
            if (frame![0] == 0x89)
            {
                await client.SendAsync(new byte[] { 0x8A, 0x80, 1, 2, 3, 4 });
                answered++;
            }
        }

        output.WriteLine($"client answered {answered} more pings");
        Assert.True(answered >= 2, $"only {answered} pings in {s_interval * 5}");
        Assert.Empty(gateway.Logs.Named("TunnelPeerUnresponsive"));
    }

    [Fact]
    public async Task A_client_that_stays_silent_after_a_ping_ends_the_tunnel()
    {
        await using var origin = RawOrigin.Start(async connection =>
        {
            await connection.ReadRequestAsync();
            await connection.WriteAsync(Switching);
            while (await ReadFrameAsync(connection.Reader) is { } frame)
            {
                if (frame[0] == 0x89)
                {
                    await connection.WriteAsync(new byte[] { 0x8A, 0x00 });
                }
            }
        });
        await using var gateway = await StartAsync(origin.Address);
        await using var client = await UpgradeAsync(gateway);
        var silent = System.Diagnostics.Stopwatch.StartNew();

        // The client reads (the ping, the backend's pongs) but never answers.
        while (await ReadFrameAsync(client.Reader, TimeSpan.FromSeconds(5)) is not null)
        {
        }

        output.WriteLine($"closed after {silent.ElapsedMilliseconds} ms");
        Assert.InRange(silent.Elapsed, (s_interval * 2) - TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(4));
        await Eventually.TrueAsync(() => gateway.Logs.Named("TunnelPeerUnresponsive").Count == 1, "the dead client was not logged");
        Assert.Contains("the client sent nothing", gateway.Logs.Named("TunnelPeerUnresponsive")[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_ping_is_put_inside_a_frame_the_backend_has_only_half_sent()
    {
        var interval = TimeSpan.FromMilliseconds(600);
        var finish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var origin = RawOrigin.Start(async connection =>
        {
            await connection.ReadRequestAsync();
            await connection.WriteAsync(Switching);
            await connection.WriteAsync(new byte[] { 0x82, 10, 1, 2, 3, 4, 5 }); // binary, 10 bytes: 5 now
            await finish.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await connection.WriteAsync(new byte[] { 6, 7, 8, 9, 10 });

            // Then it answers Tether's pings, which started while its frame was open.
            while (await ReadFrameAsync(connection.Reader) is { } frame)
            {
                if (frame[0] == 0x89)
                {
                    await connection.WriteAsync(new byte[] { 0x8A, 0x00 });
                }
            }
        });
        await using var gateway = await StartAsync(origin.Address, interval);
        await using var client = await UpgradeAsync(gateway);
        var first = await client.Reader.ReadExactAsync(7, new CancellationTokenSource(TimeSpan.FromSeconds(5)).Token);
        Assert.Equal(new byte[] { 0x82, 10, 1, 2, 3, 4, 5 }, first.Bytes);

        // The client is silent, so Tether wants to ping it after one interval, and must not while the frame is
        // open. After one and a half: nothing more has arrived. Then the frame's rest, and only then a ping.
        await Task.Delay(interval * 1.5);
        Assert.Equal(0, client.Socket.Available);
        finish.SetResult();
        var rest = await client.Reader.ReadExactAsync(5, new CancellationTokenSource(TimeSpan.FromSeconds(5)).Token);
        Assert.Equal(new byte[] { 6, 7, 8, 9, 10 }, rest.Bytes);

        // Whole frames from here on: the backend's Pong to Tether's ping crosses to the client, and Tether's Ping.
        byte[]? frame;
        do
        {
            frame = await ReadFrameAsync(client.Reader, TimeSpan.FromSeconds(5));
            Assert.NotNull(frame);
            Assert.True(frame[0] is 0x89 or 0x8A, $"unexpected frame {Convert.ToHexString(frame)}");
        }
        while (frame[0] != 0x89);

        Assert.Equal(new byte[] { 0x89, 0x00 }, frame);
        Assert.Empty(gateway.Logs.Named("TunnelPeerUnresponsive"));
    }

    private Task<TestGateway> StartAsync(string origin, TimeSpan? interval = null) =>
        TestGateway.StartAsync(origin, c => c with { WebSocketPingInterval = interval ?? s_interval }, output: output);

    private static async Task<RawClient> UpgradeAsync(TestGateway gateway)
    {
        var client = await gateway.ConnectAsync();
        await client.SendAsync(RawClient.Request("GET", "/ws", "tether.test",
            "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"));
        Assert.Equal(101, (await client.ReadResponseAsync()).Status);
        return client;
    }

    // One whole frame with a payload of at most 125 bytes (all these tests send), or null at end of stream.
    // A closed or reset connection reads as null.
    private static async Task<byte[]?> ReadFrameAsync(SocketReader reader, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            var head = await reader.ReadExactAsync(2, cts.Token);
            if (!head.Complete)
            {
                return null;
            }

            var length = (head.Bytes[1] & 0x7F) + ((head.Bytes[1] & 0x80) != 0 ? 4 : 0);
            var rest = length == 0 ? [] : (await reader.ReadExactAsync(length, cts.Token)).Bytes;
            return [.. head.Bytes, .. rest];
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
        {
            return null;
        }
    }
}
