using System.Net;
using System.Net.Http;
using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Forwarding;

/// <summary>
/// A WebSocket opened over HTTP/2 (RFC 8441 extended CONNECT, which Kestrel advertises with
/// SETTINGS_ENABLE_CONNECT_PROTOCOL) reaches an HTTP/1.1 backend as an RFC 6455 Upgrade and is tunneled like
/// one, with a real ClientWebSocket on one side and ASP.NET Core's WebSocket middleware on the other.
/// </summary>
public sealed class WebSocketOverHttp2Tests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_websocket_over_h2c_is_an_http1_upgrade_to_the_backend_and_echoes_both_ways()
    {
        string? seenProtocol = null;
        string? seenMethod = null;
        await using var backend = await StartEchoBackendAsync(context =>
        {
            seenProtocol = context.Request.Protocol;
            seenMethod = context.Request.Method;
        });
        var config = TestGateway.ConfigFor($"127.0.0.1:{backend.Urls.Select(u => new Uri(u).Port).First()}");
        config = config with { Listeners = [new ListenerConfig { Address = "127.0.0.1:0", Protocols = ListenerProtocols.Http2 }] };
        await using var gateway = await TestGateway.StartAsync(config, output: output);

        using var handler = new SocketsHttpHandler();
        using var invoker = new HttpMessageInvoker(handler);
        using var socket = new ClientWebSocket();
        socket.Options.HttpVersion = HttpVersion.Version20;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        socket.Options.CollectHttpResponseDetails = true;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{gateway.Url.Port}/chat"), invoker, timeout.Token);

        Assert.Equal(HttpStatusCode.OK, socket.HttpStatusCode); // HTTP/2: 200, not 101
        for (var i = 0; i < 3; i++)
        {
            var message = $"hello {i} " + new string('x', i * 20000);
            await socket.SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
            Assert.Equal(message, await ReceiveTextAsync(socket, timeout.Token));
        }

        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, socket.CloseStatus);
        Assert.Equal("HTTP/1.1", seenProtocol);
        Assert.Equal("GET", seenMethod);
    }

    [Fact]
    public async Task A_plain_http2_connect_is_still_refused_before_any_backend()
    {
        await using var origin = RawOrigin.Ok();
        var config = TestGateway.ConfigFor(origin.Address);
        config = config with { Listeners = [new ListenerConfig { Address = "127.0.0.1:0", Protocols = ListenerProtocols.Http2 }] };
        await using var gateway = await TestGateway.StartAsync(config, output: output);
        using var client = new HttpClient(new SocketsHttpHandler()) { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };

        using var request = new HttpRequestMessage(HttpMethod.Connect, $"http://127.0.0.1:{gateway.Url.Port}/");
        request.Headers.Host = "internal.admin:443";
        using var response = await client.SendAsync(request);

        // Kestrel itself answers a CONNECT without :protocol over HTTP/2 with 400; Tether would answer 405. Either
        // way nothing reaches the backend.
        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.MethodNotAllowed, response.StatusCode.ToString());
        Assert.Equal(0, origin.Accepted);
    }

    private static async Task<string> ReceiveTextAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[8192];
        var text = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, cancellationToken);
            text.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return Encoding.UTF8.GetString(text.ToArray());
            }
        }
    }

    // An HTTP/1.1-only Kestrel that accepts WebSockets and echoes every message back.
    private static async Task<WebApplication> StartEchoBackendAsync(Action<HttpContext> seen)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http1));
        var app = builder.Build();
        app.UseWebSockets();
        app.Run(async context =>
        {
            seen(context);
            if (!context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = 400;
                return;
            }

            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[65536];
            while (true)
            {
                var message = new MemoryStream();
                WebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                    message.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                    return;
                }

                await socket.SendAsync(message.ToArray(), result.MessageType, endOfMessage: true, CancellationToken.None);
            }
        });
        await app.StartAsync();
        return app;
    }
}
