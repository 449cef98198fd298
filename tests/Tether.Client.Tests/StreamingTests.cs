using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;

namespace Tether.Client.Tests;

public sealed class StreamingTests
{
    [Fact]
    public async Task The_response_body_reaches_the_caller_before_the_server_has_sent_all_of_it()
    {
        var restMaySend = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = new RawBackend
        {
            Handle = async (_, socket) =>
            {
                await socket.SendAsync("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n"u8.ToArray(), SocketFlags.None);
                await restMaySend.Task.WaitAsync(TimeSpan.FromSeconds(10));
                await socket.SendAsync("4\r\nrest\r\n0\r\n\r\n"u8.ToArray(), SocketFlags.None);
                return true;
            },
        };
        var handler = new TetherHttpHandler();
        using var client = new HttpClient(handler);
        using (var response = await client.GetAsync(backend.Url, HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.True(response.Headers.TransferEncodingChunked);
            await using var body = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[64];
            var n = await body.ReadAtLeastAsync(buffer, 5);
            Assert.Equal("first", Encoding.ASCII.GetString(buffer, 0, n));
            restMaySend.SetResult();
            n = await body.ReadAtLeastAsync(buffer, 4);
            Assert.Equal("rest", Encoding.ASCII.GetString(buffer, 0, n));
            Assert.Equal(0, await body.ReadAtLeastAsync(buffer, 1, throwOnEndOfStream: false));
        }

        // Read to its end, the connection went back to the pool and carries the next request.
        Assert.Equal(1, Assert.Single(handler.FindHost(new Uri(backend.Url))!.Cluster.Destinations).Pool.IdleCount);
    }

    [Fact]
    public async Task Response_headers_land_where_HttpClient_users_look_for_them()
    {
        await using var backend = new RawBackend
        {
            Respond = _ => ValueTask.FromResult<byte[]?>(Encoding.ASCII.GetBytes(
                "HTTP/1.1 200 OK\r\nDate: Fri, 04 Dec 2026 19:00:00 GMT\r\nContent-Type: text/plain\r\ncontent-length: 5\r\n"
                + "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Custom: one\r\nContent-Foo: bar\r\nExpires: 0\r\nETag: \"v1\"\r\n\r\nhello")),
        };
        using var client = new HttpClient(new TetherHttpHandler());
        for (var i = 0; i < 2; i++)
        {
            // Twice: the second response's strings come from the connection's caches.
            using var response = await client.GetAsync(backend.Url);
            Assert.Equal("hello", await response.Content.ReadAsStringAsync());
            Assert.Equal(5, response.Content.Headers.ContentLength);
            Assert.Equal("5", Assert.Single(response.Content.Headers.GetValues("Content-Length")));
            Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("bar", Assert.Single(response.Content.Headers.GetValues("Content-Foo")));
            Assert.NotNull(response.Content.Headers.Expires);
            Assert.Equal(new DateTimeOffset(2026, 12, 4, 19, 0, 0, TimeSpan.Zero), response.Headers.Date);
            Assert.Equal(["a=1", "b=2"], response.Headers.GetValues("Set-Cookie"));
            Assert.Equal("one", Assert.Single(response.Headers.GetValues("X-Custom")));
            Assert.Equal("\"v1\"", response.Headers.ETag?.Tag);
            Assert.False(response.Headers.NonValidated.Contains("Content-Type"));
        }
    }

    [Fact]
    public async Task A_request_body_of_unknown_length_is_streamed_chunked_as_the_content_produces_it()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var firstPartArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = Task.Run(async () =>
        {
            using var socket = await listener.AcceptAsync();
            var received = new StringBuilder();
            var buffer = new byte[4096];
            while (!received.ToString().EndsWith("0\r\n\r\n", StringComparison.Ordinal))
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None);
                Assert.True(n > 0);
                received.Append(Encoding.ASCII.GetString(buffer, 0, n));
                if (received.ToString().Contains("part-one", StringComparison.Ordinal))
                {
                    firstPartArrived.TrySetResult();
                }
            }

            await socket.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray(), SocketFlags.None);
            return received.ToString();
        });

        using var client = new HttpClient(new TetherHttpHandler());
        var content = new SlowContent(firstPartArrived.Task);
        using var response = await client.PostAsync($"http://127.0.0.1:{port}/upload", content);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        var request = await server;
        Assert.Contains("Transfer-Encoding: chunked\r\n", request, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\n8\r\npart-one\r\n8\r\npart-two\r\n0\r\n\r\n", request, StringComparison.Ordinal);
    }

    // Writes "part-one", then waits until the server has it before writing "part-two": only a streamed body gets there.
    private sealed class SlowContent(Task firstPartArrived) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync("part-one"u8.ToArray());
            await firstPartArrived.WaitAsync(TimeSpan.FromSeconds(10));
            await stream.WriteAsync("part-two"u8.ToArray());
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [Fact]
    public async Task UseTether_makes_the_factory_client_use_the_handler_with_its_options()
    {
        await using var backend = new RawBackend();
        var services = new ServiceCollection();
        services.AddHttpClient("backend", c => c.BaseAddress = new Uri(backend.Url)).UseTether(o => o.MaxRequestsPerConnection = 2);
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("backend");
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal("hello", await client.GetStringAsync("/x"));
        }

        Assert.Equal(2, backend.MaxRequestsOnOneConnection);
        Assert.Equal(3, backend.ConnectionCount);
    }

    [Fact]
    public async Task The_Tether_Client_meter_counts_created_reused_and_closed_connections()
    {
        await using var backend = new RawBackend();
        var port = backend.Port;
        long created = 0, reused = 0, idleAges = 0, closedMaxRequests = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Tether.Client")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var mine = false;
            var reason = "";
            foreach (var tag in tags)
            {
                mine |= tag.Key == "server.port" && tag.Value is int p && p == port;
                reason = tag.Key == "reason" ? (string)tag.Value! : reason;
            }

            switch (instrument.Name)
            {
                case "tether.client.connections.created" when mine: created += value; break;
                case "tether.client.connections.reused" when mine: reused += value; break;
                case "tether.client.connections.closed" when reason == "maxRequests": closedMaxRequests = value; break;
            }
        });
        listener.SetMeasurementEventCallback<double>((instrument, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (instrument.Name == "tether.client.connections.idle_age_at_reuse" && tag.Key == "server.port" && tag.Value is int p && p == port)
                {
                    idleAges++;
                }
            }
        });
        listener.Start();

        using var client = new HttpClient(new TetherHttpHandler(new TetherClientOptions { MaxRequestsPerConnection = 3 }));
        for (var i = 0; i < 6; i++)
        {
            await client.GetStringAsync(backend.Url);
        }

        listener.RecordObservableInstruments();
        Assert.Equal(2, created);
        Assert.Equal(4, reused);
        Assert.Equal(4, idleAges);
        Assert.True(closedMaxRequests >= 2, $"closed maxRequests: {closedMaxRequests}");
    }
}
