// The floor under any Kestrel-fronted proxy: servers that answer the benchmark's 19-byte page themselves,
// with Tether's transport settings (sockets transport, inline completions and scheduling, server GC).
//
//   floor kestrel PORT   Kestrel's HTTP/1.1 server and a one-line request delegate (no routing, no logging).
//   floor handler PORT   Kestrel's socket transport only, with a connection handler that answers every request
//                        head with a fixed response: the cost of the transport without Kestrel's HTTP layer.
//                        Not an HTTP server (no bodies, no validation); a measuring stick.
//
// bench/floor.sh measures both beside nginx answering the same page and beside the proxies.
using System.Buffers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

if (args.Length != 2 || args[0] is not ("kestrel" or "handler") || !int.TryParse(args[1], out var port))
{
    await Console.Error.WriteLineAsync("usage: floor kestrel|handler PORT").ConfigureAwait(false);
    return 2;
}

// As the tether executable does: socket completions run on the socket engine threads.
Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
builder.WebHost.UseKestrelCore().ConfigureKestrel(o =>
{
    o.Limits.MaxConcurrentConnections = null;
    o.AddServerHeader = false;
    if (args[0] == "handler")
    {
        o.ListenLocalhost(port, l => l.UseConnectionHandler<FixedResponseHandler>());
    }
    else
    {
        o.ListenLocalhost(port);
    }
});
builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);
var app = builder.Build();
app.Run(context =>
{
    context.Response.ContentType = "text/plain";
    context.Response.ContentLength = FixedResponseHandler.Body.Length;
    return context.Response.Body.WriteAsync(FixedResponseHandler.Body).AsTask();
});
await app.RunAsync().ConfigureAwait(false);
return 0;

internal sealed class FixedResponseHandler : ConnectionHandler
{
    public static readonly byte[] Body = "Hello from origin!\n"u8.ToArray();

    private static readonly byte[] _response =
        [.. "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 19\r\n\r\n"u8, .. Body];

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        while (true)
        {
            var result = await input.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            var answered = 0;
            while (EndOfHead(buffer) is { } end)
            {
                buffer = buffer.Slice(end);
                output.Write(_response);
                answered++;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (answered > 0)
            {
                await output.FlushAsync().ConfigureAwait(false);
            }

            if (result.IsCompleted)
            {
                return;
            }
        }
    }

    private static SequencePosition? EndOfHead(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        return reader.TryReadTo(out ReadOnlySequence<byte> _, "\r\n\r\n"u8, advancePastDelimiter: true) ? reader.Position : null;
    }
}
