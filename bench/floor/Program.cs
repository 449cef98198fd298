// The floor under any Kestrel-fronted proxy: servers that answer the benchmark's 19-byte page themselves,
// with Tether's transport settings (sockets transport, inline completions and scheduling, server GC).
//
//   floor kestrel PORT   Kestrel's HTTP/1.1 server and a one-line request delegate (no routing, no logging).
//   floor handler PORT   Kestrel's socket transport only, with a connection handler that answers every request
//                        head with a fixed response: the cost of the transport without Kestrel's HTTP layer.
//                        Not an HTTP server (no bodies, no validation); a measuring stick.
//   floor conn PORT      Issue 15 design (a): Tether's own minimal HTTP/1.1 handler as a connection middleware on
//                        Kestrel's socket transport (reads heads from the transport PipeReader, parses the request
//                        line and headers, skips a Content-Length body); a connection opening with the HTTP/2
//                        preface is passed on to Kestrel's own pipeline.
//   floor sockets PORT   Issue 15 design (b): the same handler on Tether's own accept loop over raw sockets, with no
//                        buffer and no pipe while a connection is idle: one pending zero-byte receive, a buffer
//                        rented from ArrayPool only while bytes are in hand, returned before going idle again.
//
// bench/floor.sh measures both beside nginx answering the same page and beside the proxies.
using System.Buffers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

if (args.Length != 2 || args[0] is not ("kestrel" or "handler" or "conn" or "sockets") || !int.TryParse(args[1], out var port))
{
    await Console.Error.WriteLineAsync("usage: floor kestrel|handler|conn|sockets PORT").ConfigureAwait(false);
    return 2;
}

// As the tether executable does: socket completions run on the socket engine threads.
Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
if (args[0] == "sockets")
{
    await SocketsServer.RunAsync(port).ConfigureAwait(false);
    return 0;
}
var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
builder.WebHost.UseKestrelCore().ConfigureKestrel(o =>
{
    o.Limits.MaxConcurrentConnections = null;
    o.AddServerHeader = false;
    if (args[0] == "handler")
    {
        o.ListenLocalhost(port, l => l.UseConnectionHandler<FixedResponseHandler>());
    }
    else if (args[0] == "conn")
    {
        o.ListenLocalhost(port, l =>
        {
            // What reaches Kestrel is only what opened with the preface: prior-knowledge HTTP/2.
            l.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2;
            l.Use(next => new MiniHttp1Middleware(next).OnConnectionAsync);
        });
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

/// <summary>
/// The least an HTTP/1.1 server does per request head: find its end, check the request line and that every
/// header line is "token: value", read Content-Length and Connection: close. Shared by both designs, so the
/// rows differ only in what carries the bytes.
/// </summary>
internal static class MiniHttp1
{
    public static readonly byte[] Response = [.. "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 19\r\n\r\n"u8, .. FixedResponseHandler.Body];

    /// <summary>Parses one head at the start of <paramref name="data"/>: its length (0: incomplete, -1: malformed).</summary>
    public static int ParseHead(ReadOnlySpan<byte> data, out long contentLength, out bool close)
    {
        contentLength = 0;
        close = false;
        var end = data.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            return 0;
        }

        var head = data[..(end + 2)];
        var eol = head.IndexOf("\r\n"u8);
        var line = head[..eol];
        var sp1 = line.IndexOf((byte)' ');
        var sp2 = sp1 < 0 ? -1 : line[(sp1 + 1)..].IndexOf((byte)' ');
        if (sp1 <= 0 || sp2 <= 0 || !line[(sp1 + sp2 + 2)..].StartsWith("HTTP/1."u8))
        {
            return -1;
        }

        head = head[(eol + 2)..];
        while (!head.IsEmpty)
        {
            eol = head.IndexOf("\r\n"u8);
            line = head[..eol];
            head = head[(eol + 2)..];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || line[..colon].ContainsAny(Separators))
            {
                return -1;
            }

            var name = line[..colon];
            var value = line[(colon + 1)..].Trim((byte)' ');
            if (name.Length == 14 && System.Text.Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                if (!System.Buffers.Text.Utf8Parser.TryParse(value, out contentLength, out var used) || used != value.Length)
                {
                    return -1;
                }
            }
            else if (name.Length == 10 && System.Text.Ascii.EqualsIgnoreCase(name, "Connection"u8))
            {
                close = System.Text.Ascii.EqualsIgnoreCase(value, "close"u8);
            }
        }

        return end + 4;
    }

    private static readonly SearchValues<byte> Separators = SearchValues.Create(" \t\"(),/;<=>?@[\\]{}"u8);
}

/// <summary>Design (a): a connection middleware on Kestrel's transport; HTTP/2 (preface) goes on to Kestrel.</summary>
internal sealed class MiniHttp1Middleware(ConnectionDelegate next)
{
    private static readonly byte[] _preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    public async Task OnConnectionAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        long skip = 0;
        var first = true;
        while (true)
        {
            var result = await input.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            if (first)
            {
                if (buffer.Length < _preface.Length && _preface.AsSpan(0, (int)buffer.Length).SequenceEqual(buffer.IsSingleSegment ? buffer.FirstSpan : buffer.ToArray()) && !result.IsCompleted)
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                }

                first = false;
                if (buffer.Length >= _preface.Length && buffer.Slice(0, _preface.Length).ToArray().AsSpan().SequenceEqual(_preface))
                {
                    input.AdvanceTo(buffer.Start);
                    await next(connection).ConfigureAwait(false);
                    return;
                }
            }

            var answered = false;
            var closeAfter = false;
            while (true)
            {
                if (skip > 0)
                {
                    var n = Math.Min(skip, buffer.Length);
                    buffer = buffer.Slice(n);
                    skip -= n;
                    if (skip > 0)
                    {
                        break;
                    }
                }

                var span = buffer.IsSingleSegment ? buffer.FirstSpan : buffer.ToArray();
                var used = MiniHttp1.ParseHead(span, out var length, out var close);
                if (used == 0)
                {
                    break;
                }

                if (used < 0)
                {
                    return;
                }

                buffer = buffer.Slice(used);
                skip = length;
                output.Write(MiniHttp1.Response);
                answered = true;
                if (close)
                {
                    closeAfter = true;
                    break;
                }
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (answered)
            {
                await output.FlushAsync().ConfigureAwait(false);
            }

            if (result.IsCompleted || closeAfter)
            {
                return;
            }
        }
    }
}

/// <summary>
/// Design (b): Tether's own accept loop. While a connection is idle it holds its socket and one pending
/// zero-byte receive (the socket's cached event args and this method's state machine), no buffer.
/// </summary>
internal static class SocketsServer
{
    public static async Task RunAsync(int port)
    {
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port));
        listener.Listen(4096);
        while (true)
        {
            var socket = await listener.AcceptAsync().ConfigureAwait(false);
            socket.NoDelay = true;
            _ = ServeAsync(socket);
        }
    }

    private static async Task ServeAsync(System.Net.Sockets.Socket socket)
    {
        byte[]? buffer = null;
        try
        {
            long skip = 0;
            while (true)
            {
                // Idle: no buffer in hand.
                await socket.ReceiveAsync(Memory<byte>.Empty, System.Net.Sockets.SocketFlags.None).ConfigureAwait(false);
                buffer = ArrayPool<byte>.Shared.Rent(4096);
                var filled = 0;
                while (true)
                {
                    var n = await socket.ReceiveAsync(buffer.AsMemory(filled), System.Net.Sockets.SocketFlags.None).ConfigureAwait(false);
                    if (n == 0)
                    {
                        return;
                    }

                    filled += n;
                    var start = 0;
                    var answered = 0;
                    var close = false;
                    while (start < filled)
                    {
                        if (skip > 0)
                        {
                            var s = (int)Math.Min(skip, filled - start);
                            start += s;
                            skip -= s;
                            continue;
                        }

                        var used = MiniHttp1.ParseHead(buffer.AsSpan(start, filled - start), out var length, out close);
                        if (used == 0)
                        {
                            break;
                        }

                        if (used < 0)
                        {
                            return;
                        }

                        start += used;
                        skip = length;
                        answered++;
                        if (close)
                        {
                            break;
                        }
                    }

                    for (var i = 0; i < answered; i++)
                    {
                        await socket.SendAsync(MiniHttp1.Response, System.Net.Sockets.SocketFlags.None).ConfigureAwait(false);
                    }

                    if (close)
                    {
                        return;
                    }

                    if (start < filled)
                    {
                        // A partial head: keep it and read on (a head larger than the buffer is refused).
                        buffer.AsSpan(start, filled - start).CopyTo(buffer);
                        filled -= start;
                        if (filled == buffer.Length)
                        {
                            return;
                        }

                        continue;
                    }

                    break;
                }

                ArrayPool<byte>.Shared.Return(buffer);
                buffer = null;
            }
        }
        catch (System.Net.Sockets.SocketException)
        {
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            socket.Dispose();
        }
    }
}
