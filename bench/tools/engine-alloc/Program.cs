// Bytes allocated per proxied request, for each listener engine: one keep-alive client connection sends GET /
// and reads the 19-byte answer, one request after another, through an in-process gateway to a backend that
// answers from a fixed buffer. Client and backend are blocking sockets on their own threads with buffers
// allocated once, so what GC.GetTotalAllocatedBytes counts between the marks is the gateway's.
//   dotnet run -c Release --project bench/tools/engine-alloc -- [requests = 50000] [engines = tether,kestrel]
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Tether.Configuration;
using Tether.Gateway;

var requests = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 50_000;
var engines = args.Length > 1 ? args[1].Split(',') : ["tether", "kestrel"];

// "types" as the third argument: also the allocating types, sampled by the runtime's AllocationTick event (one
// sample per ~100 KB allocated), so a regression names what it allocates.
using var ticks = args.Length > 2 && args[2] == "types" ? new AllocationTicks() : null;

using var backend = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
backend.Bind(new IPEndPoint(IPAddress.Loopback, 0));
backend.Listen(16);
var answer = "HTTP/1.1 200 OK\r\nContent-Length: 19\r\nContent-Type: text/plain\r\n\r\nhello from backend\n"u8.ToArray();
new Thread(() =>
{
    while (true)
    {
        Socket connection;
        try
        {
            connection = backend.Accept();
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.Interrupted)
        {
            continue; // EINTR (the runtime's signals): accept again
        }
        catch (ObjectDisposedException)
        {
            return; // the program is ending
        }

        new Thread(() => Serve(connection)) { IsBackground = true }.Start();
    }
}) { IsBackground = true }.Start();

foreach (var engine in engines)
{
    var json = $$"""
        {
          "listeners": [{ "address": "127.0.0.1:0", "protocols": "http1", "engine": "{{engine}}" }],
          "downstream": { "maxRequestsPerConnection": 0 },
          "routes": [{ "cluster": "app" }],
          "clusters": { "app": { "destinations": ["127.0.0.1:{{((IPEndPoint)backend.LocalEndPoint!).Port}}"] } }
        }
        """;
    var loaded = ConfigLoader.Parse(json);
    if (!loaded.Succeeded)
    {
        Console.Error.WriteLine(string.Join("\n", loaded.Errors));
        return 1;
    }

    await using var gateway = await TetherGateway.StartAsync(loaded.Config!);
    var url = gateway.ListenerUrls[0];
    using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    client.Connect(new IPEndPoint(IPAddress.Loopback, url.Port));
    var request = "GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: engine-alloc\r\nAccept: */*\r\n\r\n"u8.ToArray();
    var buffer = new byte[16 * 1024];

    RunRequests(client, request, buffer, requests / 2); // warm-up: tiering, pools, caches
    GC.Collect();
    var before = GC.GetTotalAllocatedBytes(precise: true);
    var clock = System.Diagnostics.Stopwatch.StartNew();
    ticks?.Reset();
    RunRequests(client, request, buffer, requests);
    var elapsed = clock.Elapsed;
    var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"engine {engine,-8} {requests} requests  {(double)allocated / requests,8:F0} bytes/request  {requests / elapsed.TotalSeconds,8:F0} req/s (one connection)"));
    ticks?.Print();
}

return 0;

void Serve(Socket connection)
{
    var input = new byte[16 * 1024];
    var held = 0;
    try
    {
        while (true)
        {
            var n = connection.Receive(input.AsSpan(held));
            if (n == 0)
            {
                return;
            }

            held += n;
            int end;
            while ((end = input.AsSpan(0, held).IndexOf("\r\n\r\n"u8)) >= 0)
            {
                connection.Send(answer);
                input.AsSpan(end + 4, held - end - 4).CopyTo(input);
                held -= end + 4;
            }
        }
    }
    catch (SocketException)
    {
    }
    finally
    {
        connection.Dispose();
    }
}

static void RunRequests(Socket client, byte[] request, byte[] buffer, int count)
{
    for (var i = 0; i < count; i++)
    {
        client.Send(request);
        var held = 0;
        var need = -1;
        while (need < 0 || held < need)
        {
            var n = client.Receive(buffer.AsSpan(held));
            if (n == 0)
            {
                throw new InvalidOperationException("the gateway closed the connection");
            }

            held += n;
            if (need < 0 && buffer.AsSpan(0, held).IndexOf("\r\n\r\n"u8) is var end and >= 0)
            {
                need = end + 4 + ContentLength(buffer.AsSpan(0, end));
            }
        }
    }
}

static int ContentLength(ReadOnlySpan<byte> head)
{
    var at = head.IndexOf("Content-Length: "u8);
    var rest = head[(at + 16)..];
    // Utf8Parser: no string, so the client side allocates nothing per request.
    System.Buffers.Text.Utf8Parser.TryParse(rest, out int length, out _);
    return length;
}

