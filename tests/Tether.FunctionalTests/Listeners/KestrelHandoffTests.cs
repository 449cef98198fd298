using System.Diagnostics;
using System.Net;
using Tether.Configuration;
using Tether.FunctionalTests.Grpc;
using Tether.FunctionalTests.Grpc.Proto;
using Tether.FunctionalTests.Infrastructure;
using Tether.Gateway.Protection;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Listeners;

/// <summary>
/// listeners[].engine "tether" on listeners that are not cleartext HTTP/1.1 only: the engine accepts every
/// connection, serves HTTP/1.1 itself and hands h2c (by its preface) and TLS connections to Kestrel in-process
/// (Http1.KestrelHandoff). Real clients on real sockets: HttpClient, h2load, Grpc.Net.Client.
/// </summary>
public sealed class KestrelHandoffTests(ITestOutputHelper output)
{
    private static ListenerConfig Mixed => new() { Address = "127.0.0.1:0", Protocols = ListenerProtocols.Http1AndHttp2, Engine = ListenerEngine.Tether };

    private Task<TestGateway> StartAsync(RawOrigin origin, ListenerConfig? listener = null, Func<DownstreamConfig, DownstreamConfig>? downstream = null)
    {
        var config = TestGateway.ConfigFor(origin.Address);
        config = config with
        {
            Listeners = [listener ?? Mixed],
            Downstream = downstream?.Invoke(config.Downstream) ?? config.Downstream,
        };
        return TestGateway.StartAsync(config, output: output);
    }

    private static HttpClient Client(Uri url, Version version, HttpMessageHandler? handler = null) => new(handler ?? new SocketsHttpHandler())
    {
        BaseAddress = url,
        DefaultRequestVersion = version,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    [Fact]
    public async Task HTTP_1_1_is_served_by_the_engine_and_h2c_by_Kestrel_on_one_port_each_counted_once()
    {
        await using var origin = RawOrigin.Serve((request, connection) => connection.RespondAsync(200, request.Target));
        await using var gateway = await StartAsync(origin);
        using var http1 = Client(gateway.Url, HttpVersion.Version11);
        using var http2 = Client(gateway.Url, HttpVersion.Version20);

        // A header the Connection header nominates is removed by the engine's HTTP/1.1 (Kestrel would forward it).
        using var request = new HttpRequestMessage(HttpMethod.Get, "/one");
        request.Headers.Connection.Add("X-Secret");
        request.Headers.Add("X-Secret", "1");
        using var one = await http1.SendAsync(request);
        using var two = await http2.GetAsync("/two");

        Assert.Equal(HttpVersion.Version11, one.Version);
        Assert.Equal("/one", await one.Content.ReadAsStringAsync());
        Assert.Equal(HttpVersion.Version20, two.Version);
        Assert.Equal("/two", await two.Content.ReadAsStringAsync());
        var first = Assert.Single(origin.Requests, r => r.Target == "/one");
        Assert.Null(first.Head.Get("X-Secret"));
        Assert.All(origin.Requests, r => Assert.Equal("http", r.Head.Get("X-Forwarded-Proto")));
        Assert.Equal(2, gateway.Gateway.Downstream.Accepted);
        Assert.Equal(2, gateway.Gateway.Downstream.Handled);

        http1.Dispose();
        http2.Dispose();
        await Eventually.TrueAsync(() => gateway.Gateway.Downstream.Active == 0, "both connections counted closed, once each");
    }

    [Fact]
    public async Task H2load_over_h2c_and_over_HTTP_1_1_gets_every_answer_on_one_engine_port()
    {
        await using var origin = RawOrigin.Serve((request, connection) => connection.RespondAsync(200, "ok"));
        await using var gateway = await StartAsync(origin);

        var h2 = await H2loadAsync($"-n 200 -c 4 -m 8 {gateway.Url}");
        var h1 = await H2loadAsync($"--h1 -n 100 -c 2 {gateway.Url}");

        Assert.Contains("200 succeeded, 0 failed", h2, StringComparison.Ordinal);
        Assert.Contains("Application protocol: h2c", h2, StringComparison.Ordinal);
        Assert.Contains("100 succeeded, 0 failed", h1, StringComparison.Ordinal);
        Assert.Contains("Application protocol: http/1.1", h1, StringComparison.Ordinal);
        Assert.Equal(6, gateway.Gateway.Downstream.Accepted);
        await Eventually.TrueAsync(() => gateway.Gateway.Downstream.Active == 0, "every connection counted closed");
    }

    [Theory]
    [InlineData(ListenerKind.H2c)]
    [InlineData(ListenerKind.H2cBesideHttp1)]
    [InlineData(ListenerKind.Tls)]
    public async Task GRPC_calls_go_through_an_engine_listener(ListenerKind listener)
    {
        await using var setup = await GrpcSetup.StartAsync(listener, BackendKind.H2c, output, engine: ListenerEngine.Tether);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var reply = await setup.Client.EchoAsync(new EchoRequest { Text = "hi" }, cancellationToken: timeout.Token);
        using var stream = setup.Client.ServerStream(new StreamRequest { Text = "s", Count = 3 }, cancellationToken: timeout.Token);
        var received = 0;
        while (await stream.ResponseStream.MoveNext(timeout.Token))
        {
            received++;
        }

        Assert.Equal("hi", reply.Text);
        Assert.Equal(3, received);
        Assert.Equal(global::Grpc.Core.StatusCode.OK, stream.GetStatus().StatusCode);

        // One channel, one connection: counted once, by the engine (h2c) or by Kestrel's pipeline (TLS).
        Assert.Equal(1, setup.Gateway.Gateway.Downstream.Accepted);
    }

    [Theory]
    [InlineData(ListenerEngine.Tether)]
    [InlineData(ListenerEngine.Kestrel)]
    public async Task TLS_HTTP_1_1_and_h2_are_served_through_an_engine_listener(ListenerEngine engine)
    {
        var directory = Directory.CreateTempSubdirectory("tether-handoff-").FullName;
        try
        {
            using var ca = TestCa.Create(directory);
            using var certificate = ca.IssueServer("gateway");
            await using var origin = RawOrigin.Serve((request, connection) => connection.RespondAsync(200, request.Target));
            await using var gateway = await StartAsync(origin, Mixed with { Engine = engine, Tls = new TlsConfig { Certificate = certificate.CertificatePath, Key = certificate.KeyPath } });
            Assert.Equal("https", gateway.Url.Scheme);
            using var http1 = Client(gateway.Url, HttpVersion.Version11, GrpcSetup.HandlerTrusting(ca.Certificate));
            using var http2 = Client(gateway.Url, HttpVersion.Version20, GrpcSetup.HandlerTrusting(ca.Certificate));

            using var one = await http1.GetAsync("/one");
            using var two = await http2.GetAsync("/two");

            Assert.Equal(HttpVersion.Version11, one.Version);
            Assert.Equal("/one", await one.Content.ReadAsStringAsync());
            Assert.Equal(HttpVersion.Version20, two.Version);
            Assert.Equal("/two", await two.Content.ReadAsStringAsync());
            Assert.All(origin.Requests, r => Assert.Equal("https", r.Head.Get("X-Forwarded-Proto")));
            Assert.Equal(2, gateway.Gateway.Downstream.Accepted);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task The_per_client_cap_counts_an_h2c_connection_once()
    {
        await using var origin = RawOrigin.Serve((request, connection) => connection.RespondAsync(200, request.Target));
        await using var gateway = await StartAsync(origin, downstream: d => d with { MaxConnectionsPerClient = 1 });
        var http2 = Client(gateway.Url, HttpVersion.Version20);

        // Counted twice (engine and Kestrel), the h2c connection would be refused by its own slot.
        using (var two = await http2.GetAsync("/two"))
        {
            Assert.Equal(HttpVersion.Version20, two.Version);
            Assert.Equal(HttpStatusCode.OK, two.StatusCode);
        }

        // While it is open, the client's second connection is over the cap.
        await using (var refused = await gateway.ConnectAsync())
        {
            Assert.True(await refused.WaitForCloseAsync(TimeSpan.FromSeconds(10)), "the second connection was served");
        }

        Assert.Equal(1, gateway.Gateway.Downstream.Closed[ProtectionCloseReason.PerClientLimit]);
        http2.Dispose();
        await Eventually.TrueAsync(() => gateway.Gateway.Downstream.Active == 0, "the h2c connection counted closed");

        await using var client = await gateway.ConnectAsync();
        var response = await client.GetAsync("/one");
        Assert.Equal(200, response.Status);
    }

    [Fact]
    public async Task A_request_starting_with_P_that_arrives_in_pieces_is_HTTP_1_1()
    {
        await using var origin = RawOrigin.Ok();
        await using var gateway = await StartAsync(origin);
        await using var client = await gateway.ConnectAsync();

        await client.SendAsync("P");
        await Task.Delay(100);
        await client.SendAsync("OST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
        var response = await client.ReadResponseAsync();

        Assert.Equal(200, response.Status);
        Assert.Equal("POST", Assert.Single(origin.Requests).Method);
    }

    [Fact]
    public async Task Part_of_a_preface_then_silence_is_closed_at_requestHeadersTimeout_and_counted_slow()
    {
        await using var origin = RawOrigin.Ok();
        await using var gateway = await StartAsync(origin, downstream: d => d with { RequestHeadersTimeout = TimeSpan.FromSeconds(1) });
        await using var client = await gateway.ConnectAsync();
        var clock = Stopwatch.StartNew();

        await client.SendAsync("PRI * HT");

        Assert.True(await client.WaitForCloseAsync(TimeSpan.FromSeconds(10)), "the connection was left open");
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(4));
        Assert.Equal(1, gateway.Gateway.Downstream.Closed[ProtectionCloseReason.SlowHeaders]);
        await Eventually.TrueAsync(() => gateway.Gateway.Downstream.Active == 0, "the connection counted closed");
    }

    [Fact]
    public async Task A_drain_closes_idle_HTTP_1_1_at_once_sends_GOAWAY_to_h2c_and_lets_its_request_finish()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slowArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var origin = RawOrigin.Serve(async (request, connection) =>
        {
            if (request.Target == "/slow")
            {
                slowArrived.TrySetResult();
                await release.Task;
            }

            await connection.RespondAsync(200, request.Target);
        });
        await using var gateway = await StartAsync(origin);

        // An idle engine HTTP/1.1 connection, an idle h2c one, and an h2c one with a request in flight.
        await using var idleHttp1 = await gateway.ConnectAsync();
        Assert.Equal(200, (await idleHttp1.GetAsync("/a")).Status);
        await using var idleHttp2 = await RawHttp2Client.ConnectAsync(gateway.Url);
        await idleHttp2.GetAsync(1, "/b");
        Assert.Equal("200 /b", (await idleHttp2.ReadOutcomeAsync(1)).ToString());
        using var busy = Client(gateway.Url, HttpVersion.Version20);
        var slow = busy.GetAsync("/slow");
        await slowArrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3, gateway.Gateway.Downstream.Active);

        var stopped = gateway.Gateway.StopAsync();

        Assert.True(await idleHttp1.WaitForCloseAsync(TimeSpan.FromSeconds(5)), "the idle HTTP/1.1 connection was left open");
        Assert.Equal(0, await idleHttp2.ReadUntilGoAwayAsync());
        Assert.False(stopped.IsCompleted, "the drain did not wait for the request in flight");
        release.SetResult();
        using var response = await slow.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("/slow", await response.Content.ReadAsStringAsync());
        await stopped.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, gateway.Gateway.Downstream.Active);
        Assert.Equal(3, gateway.Gateway.Downstream.Accepted);
    }

    private async Task<string> H2loadAsync(string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo("h2load", arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        var text = await stdout + await stderr;
        output.WriteLine($"h2load {arguments}\n{text}");
        Assert.Equal(0, process.ExitCode);
        return text;
    }
}
