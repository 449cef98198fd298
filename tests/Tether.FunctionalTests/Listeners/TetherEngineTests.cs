using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Tether.FunctionalTests.Protection;
using Tether.Gateway.Protection;
using Tether.Gateway.ProxyProtocol;
using Tether.Upstream.Pooling;

namespace Tether.FunctionalTests.Listeners;

/// <summary>
/// listeners[].engine "tether" (issue 15): what Kestrel could not do for a proxy, on real sockets. The origin is
/// a raw-socket server that records every request head it receives.
/// </summary>
public class TetherEngineTests
{
    private static Task<ProtectionGateway> StartAsync(Func<DownstreamConfig, DownstreamConfig>? downstream = null) =>
        ProtectionGateway.StartAsync(downstream, listener => listener with { Engine = ListenerEngine.Tether });

    [Theory]
    [InlineData("keep-alive, X-Secret")]
    [InlineData("X-Secret, close")]
    public async Task Headers_the_Connection_header_nominates_never_reach_the_backend(string connection)
    {
        await using var gateway = await StartAsync();
        using var client = await gateway.ConnectAsync();
        var response = await ProtectionGateway.ExchangeAsync(client,
            $"GET /a HTTP/1.1\r\nHost: x\r\nConnection: {connection}\r\nX-Secret: 1\r\nX-Kept: 2\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 ", response, StringComparison.Ordinal);
        var head = Assert.Single(gateway.Origin.Requests);
        Assert.Null(gateway.Origin.Header(0, "X-Secret"));
        Assert.Equal("2", gateway.Origin.Header(0, "X-Kept"));
        Assert.DoesNotContain("X-Secret", head, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task An_idle_connection_is_closed_when_keepAliveTimeout_has_passed_to_the_millisecond()
    {
        // The mechanism is one timer per idle connection armed when the response is written: no heartbeat
        // slack. ±50 ms covers scheduling on a loaded CI machine, not the design.
        var keepAlive = TimeSpan.FromMilliseconds(600);
        await using var gateway = await StartAsync(d => d with { KeepAliveTimeout = keepAlive });
        using var client = await gateway.ConnectAsync();
        var response = await ProtectionGateway.ExchangeAsync(client, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        var answered = Stopwatch.GetTimestamp();
        Assert.StartsWith("HTTP/1.1 200 ", response, StringComparison.Ordinal);

        var buffer = new byte[16];
        var n = await client.ReceiveAsync(buffer, SocketFlags.None);
        var elapsed = Stopwatch.GetElapsedTime(answered);

        Assert.Equal(0, n);
        Assert.InRange(elapsed.TotalMilliseconds, keepAlive.TotalMilliseconds - 50, keepAlive.TotalMilliseconds + 50);
    }

    [Fact]
    public async Task A_client_still_sending_its_body_after_a_400_reads_the_400_instead_of_a_reset()
    {
        await using var gateway = await StartAsync();
        using var client = await gateway.ConnectAsync();

        // A head the parser refuses (a space before the colon), announcing a 4 MB body the client goes on sending.
        await client.SendAsync(Encoding.ASCII.GetBytes("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4194304\r\nBad Name: 1\r\n\r\n"), SocketFlags.None);
        var sending = Task.Run(async () =>
        {
            var block = new byte[64 * 1024];
            try
            {
                for (var i = 0; i < 64; i++)
                {
                    await client.SendAsync(block, SocketFlags.None);
                }
            }
            catch (SocketException)
            {
                // Once the gateway has stopped lingering the rest may be refused; the response was read first.
            }
        });

        // Read only after the body has been streaming: the gateway has long sent its 400 by now.
        await Task.WhenAny(sending, Task.Delay(300));
        var response = await ProtectionGateway.ReadResponseAsync(client);
        await sending;

        Assert.StartsWith("HTTP/1.1 400 ", response, StringComparison.Ordinal);
        Assert.Contains("Connection: close", response, StringComparison.Ordinal);
        Assert.Empty(gateway.Origin.Requests);
    }

    [Fact]
    public async Task Pipelined_requests_are_answered_in_order()
    {
        await using var gateway = await StartAsync();
        using var client = await gateway.ConnectAsync();
        await client.SendAsync(Encoding.ASCII.GetBytes(
            "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n" +
            "POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
            "GET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), SocketFlags.None);

        var all = new StringBuilder();
        var buffer = new byte[8192];
        int n;
        while ((n = await client.ReceiveAsync(buffer, SocketFlags.None)) > 0)
        {
            all.Append(Encoding.Latin1.GetString(buffer, 0, n));
        }

        var text = all.ToString();
        Assert.Equal(3, text.Split("HTTP/1.1 200 ").Length - 1);
        var paths = gateway.Origin.Requests.Select(r => r.Split(' ')[1]).ToArray();
        Assert.Equal(["/1", "/2", "/3"], paths);
        Assert.EndsWith("Connection: close\r\n\r\n", text[..(text.LastIndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)], StringComparison.Ordinal);
    }

    /// <summary>
    /// The engine reuses its header dictionaries, feature collection, context and head strings across requests and
    /// connections (Http1RequestState, pooled): nothing of one request may show in the next, pipelined or not.
    /// </summary>
    [Fact]
    public async Task Reused_request_objects_carry_nothing_from_one_request_to_the_next()
    {
        await using var gateway = await StartAsync();
        using var client = await gateway.ConnectAsync();
        await client.SendAsync(Encoding.ASCII.GetBytes(
            "GET /1?q=1 HTTP/1.1\r\nHost: one\r\nX-First: a\r\nUser-Agent: same\r\n\r\n" +
            "GET /2 HTTP/1.1\r\nHost: two\r\nUser-Agent: same\r\n\r\n"), SocketFlags.None);
        var first = await ProtectionGateway.ReadResponseAsync(client);
        var second = await ProtectionGateway.ReadResponseAsync(client);
        Assert.StartsWith("HTTP/1.1 200 ", first, StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 200 ", second, StringComparison.Ordinal);

        // The same again after the connection went idle (its objects back in the pool), and on a second connection.
        var third = await ProtectionGateway.ExchangeAsync(client, "GET /3 HTTP/1.1\r\nHost: three\r\nX-Third: c\r\n\r\n");
        using var other = await gateway.ConnectAsync();
        var fourth = await ProtectionGateway.ExchangeAsync(other, "GET /4 HTTP/1.1\r\nHost: four\r\nUser-Agent: other\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 ", third, StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 200 ", fourth, StringComparison.Ordinal);

        var requests = gateway.Origin.Requests.ToArray();
        Assert.Equal(["/1?q=1", "/2", "/3", "/4"], requests.Select(r => r.Split(' ')[1]));
        Assert.Equal(["one", "two", "three", "four"], Enumerable.Range(0, 4).Select(i => gateway.Origin.Header(i, "Host")));
        Assert.Equal(["a", null, null, null], Enumerable.Range(0, 4).Select(i => gateway.Origin.Header(i, "X-First")));
        Assert.Equal([null, null, "c", null], Enumerable.Range(0, 4).Select(i => gateway.Origin.Header(i, "X-Third")));
        Assert.Equal(["same", "same", null, "other"], Enumerable.Range(0, 4).Select(i => gateway.Origin.Header(i, "User-Agent")));
    }

    [Fact]
    public async Task A_connection_receiving_a_request_head_counts_as_reading()
    {
        await using var gateway = await StartAsync();
        using var client = await gateway.ConnectAsync();
        Assert.Equal(0, gateway.Gateway.Downstream.Reading);

        await client.SendAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n"), SocketFlags.None);
        await Eventually.TrueAsync(() => gateway.Gateway.Downstream.Reading == 1, "a half-sent head is not counted as reading");
        Assert.Equal(0, gateway.Gateway.Downstream.Writing);

        var response = await ProtectionGateway.ExchangeAsync(client, "\r\n");
        Assert.StartsWith("HTTP/1.1 200 ", response, StringComparison.Ordinal);
        await Eventually.TrueAsync(() => gateway.Gateway.Downstream.Reading == 0, "reading is not released once the head is whole");
        // The response can reach the client a moment before the connection counts itself waiting again.
        await Eventually.TrueAsync(() => gateway.Gateway.Downstream.Waiting == 1, "the kept-alive connection is not counted as waiting");
    }

    [Fact]
    public async Task Expect_100_continue_gets_its_interim_response_before_the_body_is_sent()
    {
        await using var gateway = await StartAsync();
        using var client = await gateway.ConnectAsync();
        await client.SendAsync(Encoding.ASCII.GetBytes("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"), SocketFlags.None);

        var interim = await ReadHeadAsync(client);
        Assert.StartsWith("HTTP/1.1 100 Continue\r\n\r\n", interim, StringComparison.Ordinal);

        var response = await ProtectionGateway.ExchangeAsync(client, "hello");
        Assert.StartsWith("HTTP/1.1 200 ", response, StringComparison.Ordinal);
        Assert.Single(gateway.Origin.Requests);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_PROXY_header_sent_with_the_first_request_names_the_client_and_a_connection_without_one_is_closed(int version)
    {
        await using var gateway = await ProtectionGateway.StartAsync(listener: l => l with
        {
            Engine = ListenerEngine.Tether,
            ProxyProtocol = new ProxyProtocolConfig { Mode = ProxyProtocolMode.Required, TrustedNetworks = ["127.0.0.1/32"] },
        });
        var client = new IPEndPoint(IPAddress.Parse("203.0.113.7"), 40000);
        var frontend = new IPEndPoint(IPAddress.Parse("198.51.100.1"), 443);
        var header = version == 1 ? ProxyHeaderWriter.WriteV1(client, frontend) : ProxyHeaderWriter.WriteV2(client, frontend);

        // Header and request in one segment: the bytes read past the header are the request's.
        using (var proxied = await gateway.ConnectAsync("127.0.0.1"))
        {
            var response = await ProtectionGateway.ExchangeAsync(proxied, [.. header, .. "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"u8]);
            Assert.StartsWith("HTTP/1.1 200 ", response, StringComparison.Ordinal);
            Assert.Equal("203.0.113.7", gateway.Origin.Header(0, "X-Forwarded-For"));
        }

        using var plain = await gateway.ConnectAsync("127.0.0.1");
        Assert.Equal("", await ProtectionGateway.ExchangeAsync(plain, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n", 2000));
        Assert.Equal(1, gateway.Closed(ProtectionCloseReason.ProxyProtocolMissing));
        Assert.Single(gateway.Origin.Requests);
    }

    [Fact]
    public async Task A_body_below_minRequestBodyRate_gets_408_once_the_grace_period_has_passed_and_is_counted()
    {
        var grace = TimeSpan.FromSeconds(1.5);
        await using var gateway = await StartAsync(d => d with { MinRequestBodyRate = new DataRateConfig { BytesPerSecond = 1000, Grace = grace } });
        using var client = await gateway.ConnectAsync();
        var clock = Stopwatch.StartNew();
        await client.SendAsync("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 8192\r\n\r\nabc"u8.ToArray(), SocketFlags.None);

        var response = await ProtectionGateway.ReadResponseAsync(client, 5000);

        Assert.StartsWith("HTTP/1.1 408 ", response, StringComparison.Ordinal);
        Assert.Contains("Connection: close", response, StringComparison.Ordinal);
        // One timer armed for the moment the rate is missed: never before the grace period.
        Assert.True(clock.Elapsed >= grace - Timers.EarlyFire, $"408 after {clock.ElapsedMilliseconds} ms");
        Assert.Equal(1, await gateway.ClosedEventuallyAsync(ProtectionCloseReason.SlowBody, 1));
        Assert.Empty(gateway.Origin.Requests);
    }

    [Fact]
    public async Task A_body_that_keeps_to_minRequestBodyRate_past_the_grace_period_is_forwarded()
    {
        await using var gateway = await StartAsync(d => d with { MinRequestBodyRate = new DataRateConfig { BytesPerSecond = 1000, Grace = TimeSpan.FromSeconds(1.2) } });
        using var client = await gateway.ConnectAsync();
        await client.SendAsync("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"u8.ToArray(), SocketFlags.None);

        // 500 bytes every 200 ms (2,500 B/s) for 2 s: slower than a burst, above the rate all the way.
        for (var i = 0; i < 10; i++)
        {
            await client.SendAsync(new byte[500], SocketFlags.None);
            await Task.Delay(200);
        }

        var response = await ProtectionGateway.ReadResponseAsync(client, 5000);
        Assert.StartsWith("HTTP/1.1 200 ", response, StringComparison.Ordinal);
        Assert.Equal(0, gateway.Closed(ProtectionCloseReason.SlowBody));
    }

    [Fact]
    public async Task A_client_that_stops_reading_is_closed_below_minResponseRate_and_counted()
    {
        await using var gateway = await StartAsync(d => d with { MinResponseRate = new DataRateConfig { BytesPerSecond = 1_000_000, Grace = TimeSpan.FromSeconds(1.5) } });
        using var client = await gateway.ConnectAsync();
        client.ReceiveBufferSize = 4096;
        await client.SendAsync("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(), SocketFlags.None);

        Assert.Equal(1, await gateway.ClosedEventuallyAsync(ProtectionCloseReason.SlowRead, 1, timeoutMs: 8000));
    }

    [Fact]
    public async Task An_upgrade_answered_101_is_a_tunnel_whose_half_close_reaches_the_backend()
    {
        var originSawClose = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var origin = RawOrigin.Start(async connection =>
        {
            await connection.ReadRequestAsync();
            await connection.WriteAsync("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhi;");
            var buffer = new byte[4096];
            int n;
            while ((n = await connection.Socket.ReceiveAsync(buffer)) > 0)
            {
                await connection.WriteAsync(buffer.AsMemory(0, n));
            }

            originSawClose.TrySetResult();
        });
        var config = TestGateway.ConfigFor(origin.Address) with
        {
            Listeners = [new ListenerConfig { Address = "127.0.0.1:0", Protocols = ListenerProtocols.Http1, Engine = ListenerEngine.Tether }],
        };
        await using var gateway = await TestGateway.StartAsync(config);
        await using var client = await gateway.ConnectAsync();

        // The first tunnel bytes ride in the same segment as the head: they are the tunnel's, not a next request.
        await client.SendAsync(RawClient.Request("GET", "/chat", "tether.test", "Connection: Upgrade", "Upgrade: websocket") + "early;");
        var switching = await client.ReadResponseAsync();
        Assert.Equal(101, switching.Status);
        Assert.Equal("websocket", switching.Head.Get("Upgrade"));
        Assert.True(switching.Head.HasToken("Connection", "upgrade"));
        Assert.False(switching.Head.Has("Content-Length") || switching.Head.Has("Transfer-Encoding"), switching.Head.Text);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var read = await client.Reader.ReadExactAsync("hi;early;".Length, timeout.Token);
        Assert.Equal("hi;early;", Encoding.Latin1.GetString(read.Bytes));

        client.Socket.Shutdown(SocketShutdown.Send);
        await originSawClose.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(await client.WaitForCloseAsync(TimeSpan.FromSeconds(5)));
        await Eventually.TrueAsync(() => gateway.PoolStatistics().Closed(ConnectionCloseReason.Upgraded) == 1, "the tunnel's connection was not closed as upgraded");
    }

    // Reads until one head (an interim response has no body) is in hand.
    private static async Task<string> ReadHeadAsync(Socket client)
    {
        var text = "";
        var buffer = new byte[1];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!text.EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) == 0)
            {
                break;
            }

            text += (char)buffer[0];
        }

        return text;
    }
}
