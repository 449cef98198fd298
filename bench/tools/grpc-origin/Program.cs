// The gRPC backend of bench/run.sh's "grpc" scenario, and the check that a proxy really carries gRPC.
//
//   grpc-origin serve GRPC_PORT COUNT_PORT
//       Kestrel, HTTP/2 only without TLS (h2c prior knowledge) on GRPC_PORT, serving tetherbench.Echo/Say
//       (answers with the message it got). On COUNT_PORT (HTTP/1.1), GET /count answers
//       "CALLS CONNECTIONS": the calls Say completed and the connections accepted on GRPC_PORT so far, so the
//       harness can tell answers that reached the backend from answers a proxy made up, and count upstream
//       connections as it does at the nginx origin.
//   grpc-origin call URL [PAYLOAD_BYTES]
//       One unary call with Grpc.Net.Client (HTTP/2 prior knowledge on http://, ALPN h2 on https://, any
//       certificate accepted); prints "ok" and exits 0 when grpc-status 0 arrived in the trailers and the
//       echo matches, prints the status and exits 1 otherwise.
using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using GrpcOrigin;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

if (args.Length == 3 && args[0] == "serve"
    && int.TryParse(args[1], CultureInfo.InvariantCulture, out var grpcPort)
    && int.TryParse(args[2], CultureInfo.InvariantCulture, out var countPort))
{
    await Serve(grpcPort, countPort).ConfigureAwait(false);
    return 0;
}
if (args.Length is 2 or 3 && args[0] == "call")
{
    var size = args.Length == 3 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 32;
    return await Call(new Uri(args[1]), size).ConfigureAwait(false);
}
await Console.Error.WriteLineAsync("usage: grpc-origin serve GRPC_PORT COUNT_PORT | grpc-origin call URL [PAYLOAD_BYTES]").ConfigureAwait(false);
return 2;

static async Task Serve(int grpcPort, int countPort)
{
    // As the tether executable does: socket completions run on the socket engine threads.
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
    var builder = WebApplication.CreateSlimBuilder();
    builder.Logging.ClearProviders();
    builder.Services.AddGrpc();
    builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);
    builder.WebHost.ConfigureKestrel(o =>
    {
        o.Limits.MaxConcurrentConnections = null;
        o.AddServerHeader = false;
        // No cap a proxy's pooled connection could run into during a run.
        o.Limits.Http2.MaxStreamsPerConnection = 1000;
        o.Listen(System.Net.IPAddress.Loopback, grpcPort, l =>
        {
            l.Protocols = HttpProtocols.Http2;
            l.Use(next => context =>
            {
                Counters.Connection();
                return next(context);
            });
        });
        o.Listen(System.Net.IPAddress.Loopback, countPort, l => l.Protocols = HttpProtocols.Http1);
    });
    var app = builder.Build();
    app.MapGrpcService<EchoService>();
    app.MapGet("/count", () => Counters.Text());
    await app.RunAsync().ConfigureAwait(false);
}

static async Task<int> Call(Uri url, int size)
{
    using var handler = new SocketsHttpHandler();
    handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
    using var channel = GrpcChannel.ForAddress(url, new GrpcChannelOptions { HttpHandler = handler });
    var client = new Echo.EchoClient(channel);
    var payload = ByteString.CopyFrom(new byte[size].Select((_, i) => (byte)('a' + (i % 26))).ToArray());
    try
    {
        using var call = client.SayAsync(new EchoMessage { Payload = payload }, deadline: DateTime.UtcNow.AddSeconds(10));
        var reply = await call.ResponseAsync.ConfigureAwait(false);
        var status = call.GetStatus();
        if (status.StatusCode != StatusCode.OK || reply.Payload != payload)
        {
            Console.WriteLine($"status {status.StatusCode} '{status.Detail}', echo {(reply.Payload == payload ? "matches" : "differs")}");
            return 1;
        }
        Console.WriteLine("ok");
        return 0;
    }
    catch (RpcException e)
    {
        Console.WriteLine($"status {e.StatusCode} '{e.Status.Detail}'");
        return 1;
    }
}

internal static class Counters
{
    private static long _calls;
    private static long _connections;

    public static void Call() => Interlocked.Increment(ref _calls);

    public static void Connection() => Interlocked.Increment(ref _connections);

    public static string Text() =>
        string.Create(CultureInfo.InvariantCulture, $"{Interlocked.Read(ref _calls)} {Interlocked.Read(ref _connections)}\n");
}

internal sealed class EchoService : Echo.EchoBase
{
    public override Task<EchoMessage> Say(EchoMessage request, ServerCallContext context)
    {
        Counters.Call();
        return Task.FromResult(request);
    }
}
