using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Tether.Gateway.Protection;
using Tether.Gateway.ProxyProtocol;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Listeners;

/// <summary>A cleartext "http1AndHttp2" listener: HTTP/1.1 and h2c prior knowledge on one port, told apart by the preface.</summary>
public sealed class H2cPriorKnowledgeTests(ITestOutputHelper output)
{
    private static readonly IPEndPoint _client = new(IPAddress.Parse("203.0.113.7"), 40000);
    private static readonly IPEndPoint _frontend = new(IPAddress.Parse("198.51.100.1"), 80);

    private static ListenerConfig Mixed => new() { Address = "127.0.0.1:0", Protocols = ListenerProtocols.Http1AndHttp2 };

    private Task<TestGateway> StartAsync(RawOrigin origin, Func<ListenerConfig, ListenerConfig>? listener = null, Func<DownstreamConfig, DownstreamConfig>? downstream = null)
    {
        var config = TestGateway.ConfigFor(origin.Address);
        config = config with
        {
            Listeners = [listener?.Invoke(Mixed) ?? Mixed],
            Downstream = downstream?.Invoke(config.Downstream) ?? config.Downstream,
        };
        return TestGateway.StartAsync(config, output: output);
    }

    private static HttpClient Client(Uri url, Version version, Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>>? connect = null)
    {
        var handler = new SocketsHttpHandler();
        if (connect is not null)
        {
            handler.ConnectCallback = connect;
        }

        return new HttpClient(handler)
        {
            BaseAddress = url,
            DefaultRequestVersion = version,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
    }

    [Fact]
    public async Task HTTP_1_1_and_h2c_prior_knowledge_are_both_proxied_on_one_cleartext_port()
    {
        await using var origin = RawOrigin.Serve((request, connection) => connection.RespondAsync(200, request.Target));
        await using var gateway = await StartAsync(origin);
        using var http1 = Client(gateway.Url, HttpVersion.Version11);
        using var http2 = Client(gateway.Url, HttpVersion.Version20);

        using var one = await http1.GetAsync("/one");
        using var two = await http2.GetAsync("/two");
        await using (var raw = await RawHttp2Client.ConnectAsync(gateway.Url))
        {
            await raw.GetAsync(1, "/raw");
            Assert.Equal("200 /raw", (await raw.ReadOutcomeAsync(1)).ToString());
        }

        Assert.Equal(HttpVersion.Version11, one.Version);
        Assert.Equal("/one", await one.Content.ReadAsStringAsync());
        Assert.Equal(HttpVersion.Version20, two.Version);
        Assert.Equal(HttpStatusCode.OK, two.StatusCode);
        Assert.Equal("/two", await two.Content.ReadAsStringAsync());

        // Each reached the backend, with the scheme the client used: cleartext is "http", never "https".
        Assert.Equal(["/one", "/raw", "/two"], origin.Requests.Select(r => r.Target).Order(StringComparer.Ordinal));
        Assert.All(origin.Requests, r => Assert.Equal("http", r.Head.Get("X-Forwarded-Proto")));
        Assert.Equal(3, gateway.Gateway.Downstream.Accepted);

        // Kestrel's "HTTP/2 is not enabled … will use HTTP/1.1" warning is gone with the endpoint being HTTP/1.1.
        Assert.DoesNotContain(gateway.Logs.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Theory]
    [InlineData(ListenerEngine.Tether)]
    [InlineData(ListenerEngine.Kestrel)]
    public async Task H2c_and_HTTP_1_1_after_a_PROXY_header_are_served_for_the_client_it_names(ListenerEngine engine)
    {
        await using var origin = RawOrigin.Serve((request, connection) => connection.RespondAsync(200, request.Target));
        await using var gateway = await StartAsync(origin, l => l with
        {
            Engine = engine,
            ProxyProtocol = new ProxyProtocolConfig { Mode = ProxyProtocolMode.Required, TrustedNetworks = ["127.0.0.1/32"] },
        });
        async ValueTask<Stream> ConnectWithHeader(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, gateway.Url.Port), cancellationToken);
            var stream = new NetworkStream(socket, ownsSocket: true);
            await stream.WriteAsync(ProxyHeaderWriter.WriteV2(_client, _frontend), cancellationToken);
            return stream;
        }

        using var http2 = Client(gateway.Url, HttpVersion.Version20, ConnectWithHeader);
        using var http1 = Client(gateway.Url, HttpVersion.Version11, ConnectWithHeader);

        using var two = await http2.GetAsync("/two");
        using var one = await http1.GetAsync("/one");

        Assert.Equal(HttpVersion.Version20, two.Version);
        Assert.Equal("/two", await two.Content.ReadAsStringAsync());
        Assert.Equal(HttpVersion.Version11, one.Version);
        Assert.Equal("/one", await one.Content.ReadAsStringAsync());
        Assert.Equal(2, origin.Requests.Count);
        Assert.All(origin.Requests, r => Assert.Equal("203.0.113.7", r.Head.Get("X-Forwarded-For")));
        Assert.All(origin.Requests, r => Assert.Equal("http", r.Head.Get("X-Forwarded-Proto")));

        // The header, the whole preface and an empty SETTINGS frame in one segment: what follows the header is not
        // lost to the header's read (the engine consumes exactly the header), so Kestrel answers with its SETTINGS.
        using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await raw.ConnectAsync(new IPEndPoint(IPAddress.Loopback, gateway.Url.Port));
        byte[] settings = [0, 0, 0, 4, 0, 0, 0, 0, 0];
        await raw.SendAsync((byte[])[.. ProxyHeaderWriter.WriteV2(_client, _frontend), .. "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8, .. settings]);
        var frame = new byte[9];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        for (var got = 0; got < frame.Length;)
        {
            var n = await raw.ReceiveAsync(frame.AsMemory(got), SocketFlags.None, timeout.Token);
            Assert.True(n > 0, "closed before the server's first frame");
            got += n;
        }

        Assert.Equal(4, frame[3]); // the server's SETTINGS, not a GOAWAY for a broken preface
    }

    [Fact]
    public async Task A_preface_that_arrives_in_pieces_is_still_HTTP_2()
    {
        await using var origin = RawOrigin.Ok();
        await using var gateway = await StartAsync(origin);
        await using var client = await gateway.ConnectAsync();

        await client.SendAsync("P");
        await Task.Delay(50);
        await client.SendAsync("RI * HTTP/2.0\r\n");
        await Task.Delay(50);
        await client.SendAsync("\r\nSM\r\n\r\n"u8.ToArray().Concat(new byte[] { 0, 0, 0, 4, 0, 0, 0, 0, 0 }).ToArray()); // + empty SETTINGS

        // The server's first frame: SETTINGS (type 4) on stream 0, not an HTTP/1.1 400.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var first = await client.Reader.ReadExactAsync(9, cts.Token);
        Assert.True(first.Complete);
        Assert.Equal(4, first.Bytes[3]);
        Assert.Equal(0, first.Bytes[5] | first.Bytes[6] | first.Bytes[7] | first.Bytes[8]);
    }

    [Theory]
    [InlineData("GET / HTTP/1.0\r\n\r\n")] // 18 bytes: shorter than the preface, and nothing more comes
    [InlineData("GET / HTTP/1.1\r\nHost: x\r\n\r\n")]
    public async Task A_request_shorter_than_the_preface_is_answered_at_once(string request)
    {
        await using var origin = RawOrigin.Ok();
        await using var gateway = await StartAsync(origin);
        await using var client = await gateway.ConnectAsync();
        var clock = Stopwatch.StartNew();

        await client.SendAsync(request);
        var response = await client.ReadResponseAsync();

        Assert.Equal(200, response.Status);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"answered after {clock.Elapsed}");
        Assert.Single(origin.Requests);
    }

    [Fact]
    public async Task A_client_that_sends_part_of_the_preface_and_stops_is_closed_at_requestHeadersTimeout()
    {
        await using var origin = RawOrigin.Ok();
        await using var gateway = await StartAsync(origin, downstream: d => d with { RequestHeadersTimeout = TimeSpan.FromSeconds(2) });
        await using var client = await gateway.ConnectAsync();
        var clock = Stopwatch.StartNew();

        await client.SendAsync("PRI * HT");

        Assert.True(await client.WaitForCloseAsync(TimeSpan.FromSeconds(10)), "the connection was left open");
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.9), TimeSpan.FromSeconds(4));
        Assert.Equal(1, gateway.Gateway.Downstream.Closed[ProtectionCloseReason.SlowHeaders]);
        Assert.Empty(origin.Requests);
    }

    [Fact]
    public async Task A_client_that_sends_nothing_is_closed_at_keepAliveTimeout()
    {
        await using var origin = RawOrigin.Ok();
        await using var gateway = await StartAsync(origin, downstream: d => d with { KeepAliveTimeout = TimeSpan.FromSeconds(1) });
        await using var client = await gateway.ConnectAsync();

        Assert.True(await client.WaitForCloseAsync(TimeSpan.FromSeconds(10)), "the connection was left open");
        Assert.Equal(0, gateway.Gateway.Downstream.Closed[ProtectionCloseReason.SlowHeaders]);
    }

    [Fact]
    public async Task A_stop_does_not_wait_for_a_connection_that_has_sent_nothing()
    {
        await using var origin = RawOrigin.Ok();
        await using var gateway = await StartAsync(origin);
        await using var client = await gateway.ConnectAsync();
        await Eventually.TrueAsync(() => gateway.Gateway.Downstream.Accepted == 1, "the gateway accepted the connection");
        var clock = Stopwatch.StartNew();

        // drain.timeout is 30 s: a peek that ignored the stop would hold it that long.
        await gateway.Gateway.StopAsync();

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"stop took {clock.Elapsed}");
        Assert.True(await client.WaitForCloseAsync(TimeSpan.FromSeconds(5)));
    }
}
