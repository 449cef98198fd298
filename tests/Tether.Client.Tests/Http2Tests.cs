using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Tether.Client.Tests;

/// <summary>TetherClientOptions.Protocol against real Kestrel backends: h2c, TLS with ALPN, and a gRPC call.</summary>
public sealed class Http2Tests
{
    [Fact]
    public async Task Http2_over_cleartext_multiplexes_requests_on_one_connection()
    {
        await using var backend = await Backend.StartAsync(HttpProtocols.Http2);
        using var client = new HttpClient(new TetherHttpHandler(new TetherClientOptions { Protocol = TetherProtocol.Http2 }));

        using (var first = await client.GetAsync(backend.Url("/hello")))
        {
            Assert.Equal(HttpVersion.Version20, first.Version);
            Assert.Equal("HTTP/2 hello", await first.Content.ReadAsStringAsync());
        }

        var bodies = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => client.GetStringAsync(backend.Url("/hello"))));
        Assert.All(bodies, body => Assert.Equal("HTTP/2 hello", body));
        Assert.Single(backend.Connections);
        Assert.Equal(21, backend.Requests);
    }

    [Fact]
    public async Task MaxConcurrentStreams_opens_another_connection_for_the_streams_above_it()
    {
        // Each request is held until all three are in: with one stream per connection, that takes three connections.
        var arrived = 0;
        var allIn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await Backend.StartAsync(HttpProtocols.Http2, async context =>
        {
            if (Interlocked.Increment(ref arrived) == 3)
            {
                allIn.SetResult();
            }

            await allIn.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await context.Response.WriteAsync("held");
        });
        using var client = new HttpClient(new TetherHttpHandler(new TetherClientOptions { Protocol = TetherProtocol.Http2, MaxConcurrentStreams = 1 }));

        var bodies = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => client.GetStringAsync(backend.Url("/held"))));
        Assert.All(bodies, body => Assert.Equal("held", body));
        Assert.Equal(3, backend.Connections.Count);
    }

    [Fact]
    public async Task A_request_that_requires_HTTP11_goes_over_HTTP11_and_one_that_requires_h2_fails_where_h2_is_off()
    {
        // TLS, so that one Kestrel listener speaks both (ALPN h2 for the HTTP/2 pool, http/1.1 for the HTTP/1.1 one).
        using var certificate = TestCertificate.Create("both.test");
        await using var backend = await Backend.StartAsync(HttpProtocols.Http1AndHttp2, certificate: certificate.Server);
        var url = $"https://both.test:{backend.Port}/hello";
        TetherClientOptions Options(TetherProtocol protocol) => new()
        {
            Protocol = protocol,
            TlsCaFile = certificate.CaFile,
            ResolveHost = (_, _) => Task.FromResult(new[] { IPAddress.Loopback }),
        };
        using var http2 = new HttpClient(new TetherHttpHandler(Options(TetherProtocol.Http2)));
        Assert.Equal("HTTP/2 hello", await http2.GetStringAsync(url));

        using var exact11 = new HttpRequestMessage(HttpMethod.Get, url) { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using (var response = await http2.SendAsync(exact11))
        {
            Assert.Equal(HttpVersion.Version11, response.Version);
            Assert.Equal("HTTP/1.1 hello", await response.Content.ReadAsStringAsync());
        }

        using var http1 = new HttpClient(new TetherHttpHandler(Options(TetherProtocol.Http1)));
        using var exact2 = new HttpRequestMessage(HttpMethod.Get, url) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => http1.SendAsync(exact2));
        Assert.Equal(HttpRequestError.VersionNegotiationError, error.HttpRequestError);
        Assert.Contains("Protocol = Http2", error.Message, StringComparison.Ordinal);

        // RequestVersionOrLower lets the handler's own protocol decide.
        using var orLower = new HttpRequestMessage(HttpMethod.Get, url) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionOrLower };
        using var downgraded = await http1.SendAsync(orLower);
        Assert.Equal("HTTP/1.1 hello", await downgraded.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Auto_over_TLS_takes_what_the_server_picks_by_ALPN()
    {
        using var certificate = TestCertificate.Create("h2.test");
        await using var both = await Backend.StartAsync(HttpProtocols.Http1AndHttp2, certificate: certificate.Server);
        await using var http1Only = await Backend.StartAsync(HttpProtocols.Http1, certificate: certificate.Server);
        using var client = new HttpClient(new TetherHttpHandler(new TetherClientOptions
        {
            Protocol = TetherProtocol.Auto,
            TlsCaFile = certificate.CaFile,
            ResolveHost = (_, _) => Task.FromResult(new[] { IPAddress.Loopback }),
        }));

        using (var response = await client.GetAsync($"https://h2.test:{both.Port}/hello"))
        {
            Assert.Equal(HttpVersion.Version20, response.Version);
            Assert.Equal("HTTP/2 hello", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal("HTTP/2 hello", await client.GetStringAsync($"https://h2.test:{both.Port}/hello"));
        Assert.Single(both.Connections); // the connection ALPN was negotiated on carries the streams
        Assert.Equal("HTTP/1.1 hello", await client.GetStringAsync($"https://h2.test:{http1Only.Port}/hello"));

        using var exact2 = new HttpRequestMessage(HttpMethod.Get, $"https://h2.test:{http1Only.Port}/hello") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(exact2));
        Assert.Equal(HttpRequestError.VersionNegotiationError, error.HttpRequestError);
        Assert.Contains("chose HTTP/1.1 by ALPN", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_gRPC_call_through_Grpc_Net_Client_gets_its_reply_and_its_trailers()
    {
        // A unary gRPC method served by hand on Kestrel (length-prefixed messages, grpc-status in the trailers), so the
        // client below is the real Grpc.Net.Client with TetherHttpHandler as its HttpHandler.
        await using var backend = await Backend.StartAsync(HttpProtocols.Http2, async context =>
        {
            var request = await ReadGrpcMessageAsync(context.Request.Body);
            context.Response.ContentType = "application/grpc";
            var reply = Encoding.UTF8.GetBytes("hello " + request);
            var frame = new byte[5 + reply.Length];
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)reply.Length);
            reply.CopyTo(frame, 5);
            await context.Response.Body.WriteAsync(frame);
            context.Response.AppendTrailer("grpc-status", request == "fail" ? "5" : "0");
            context.Response.AppendTrailer("grpc-message", request == "fail" ? "no such thing" : "");
        });
        var method = new Method<string, string>(MethodType.Unary, "test.Echo", "Say", Utf8, Utf8);
        using var channel = GrpcChannel.ForAddress(backend.Url("/"), new GrpcChannelOptions
        {
            HttpHandler = new TetherHttpHandler(new TetherClientOptions { Protocol = TetherProtocol.Http2 }),
        });
        var invoker = channel.CreateCallInvoker();

        Assert.Equal("hello tether", await invoker.AsyncUnaryCall(method, null, new CallOptions(), "tether"));
        Assert.Equal("hello again", await invoker.AsyncUnaryCall(method, null, new CallOptions(), "again"));
        var failed = await Assert.ThrowsAsync<RpcException>(async () => await invoker.AsyncUnaryCall(method, null, new CallOptions(), "fail"));
        Assert.Equal(StatusCode.NotFound, failed.StatusCode);
        Assert.Equal("no such thing", failed.Status.Detail);
        Assert.Single(backend.Connections);
    }

    private static readonly Marshaller<string> Utf8 = Marshallers.Create(s => Encoding.UTF8.GetBytes(s), b => Encoding.UTF8.GetString(b));

    private static async Task<string> ReadGrpcMessageAsync(Stream body)
    {
        var prefix = new byte[5];
        await body.ReadExactlyAsync(prefix);
        var message = new byte[BinaryPrimitives.ReadUInt32BigEndian(prefix.AsSpan(1))];
        await body.ReadExactlyAsync(message);
        return Encoding.UTF8.GetString(message);
    }

    // A Kestrel backend on 127.0.0.1:0 that answers "<protocol> hello" and records which connections carried requests.
    private sealed class Backend : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private Backend(WebApplication app, int port)
        {
            _app = app;
            Port = port;
        }

        public int Port { get; }

        public ConcurrentDictionary<string, byte> Connections { get; } = new();

        public int Requests => _requests;

        private int _requests;

        public static async Task<Backend> StartAsync(HttpProtocols protocols, RequestDelegate? handler = null, X509Certificate2? certificate = null)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l =>
            {
                l.Protocols = protocols;
                if (certificate is not null)
                {
                    l.UseHttps(certificate);
                }
            }));
            var app = builder.Build();
            Backend? self = null;
            app.Run(async context =>
            {
                self!.Connections.TryAdd(context.Connection.Id, 0);
                Interlocked.Increment(ref self._requests);
                if (handler is not null)
                {
                    await handler(context);
                    return;
                }

                await context.Response.WriteAsync($"{context.Request.Protocol} hello");
            });
            await app.StartAsync();
            self = new Backend(app, new Uri(app.Urls.First()).Port);
            return self;
        }

        public string Url(string path) => $"http://127.0.0.1:{Port}{path}";

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
