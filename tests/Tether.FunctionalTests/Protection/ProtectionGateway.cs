using System.Net;
using System.Net.Sockets;
using System.Text;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Tether.Gateway;
using Tether.Gateway.Protection;

namespace Tether.FunctionalTests.Protection;

/// <summary>A gateway on 127.0.0.1:0 in front of one <see cref="RecordingOrigin"/>, and raw-socket clients for it.</summary>
internal sealed class ProtectionGateway : IAsyncDisposable
{
    private ProtectionGateway(TetherGateway gateway, RecordingOrigin origin, TestLoggerProvider logs)
    {
        Gateway = gateway;
        Origin = origin;
        Logs = logs;
    }

    /// <summary>What the gateway logged: Tether's categories from Debug, Kestrel's and others' from Warning.</summary>
    public TestLoggerProvider Logs { get; }

    public TetherGateway Gateway { get; }

    public RecordingOrigin Origin { get; }

    public int Port => Gateway.ListenerUrls[0].Port;

    public static async Task<ProtectionGateway> StartAsync(
        Func<DownstreamConfig, DownstreamConfig>? downstream = null,
        Func<ListenerConfig, ListenerConfig>? listener = null,
        Func<ClusterConfig, ClusterConfig>? cluster = null,
        Func<RouteConfig, IReadOnlyList<RouteConfig>>? routes = null,
        TimeProvider? timeProvider = null)
    {
        var origin = new RecordingOrigin();
        AddressParser.TryParseDestination(origin.Address, 1, out var destination, out _);
        var clusterConfig = new ClusterConfig { Destinations = [destination] };
        var listenerConfig = new ListenerConfig { Address = "127.0.0.1:0", Protocols = ListenerProtocols.Http1 };
        var config = new TetherConfig
        {
            Listeners = [listener?.Invoke(listenerConfig) ?? listenerConfig],
            Downstream = downstream?.Invoke(new DownstreamConfig()) ?? new DownstreamConfig(),
            Routes = routes?.Invoke(new RouteConfig { Cluster = "origin" }) ?? [new RouteConfig { Cluster = "origin" }],
            Clusters = new Dictionary<string, ClusterConfig> { ["origin"] = cluster?.Invoke(clusterConfig) ?? clusterConfig },
            Admin = new AdminConfig { Address = null },
        };
        try
        {
            var logs = new TestLoggerProvider();
            return new ProtectionGateway(await TetherGateway.StartAsync(Tether.Testing.TestEngine.Apply(config), new GatewayOptions { LoggerFactory = logs.CreateFactory(), TimeProvider = timeProvider ?? TimeProvider.System }), origin, logs);
        }
        catch
        {
            await origin.DisposeAsync();
            throw;
        }
    }

    public long Closed(ProtectionCloseReason reason) => Gateway.Downstream.Closed[reason];

    /// <summary>Waits (bounded) for a counter that Kestrel's end-of-connection measurement updates just after the close.</summary>
    public async Task<long> ClosedEventuallyAsync(ProtectionCloseReason reason, long expected, int timeoutMs = 3000)
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        while (Closed(reason) < expected && Environment.TickCount64 < deadline)
        {
            await Task.Delay(20);
        }

        return Closed(reason);
    }

    /// <summary>A raw TCP connection to the listener, from <paramref name="from"/> (any 127/8 address is loopback).</summary>
    public async Task<Socket> ConnectAsync(string from = "127.0.0.1")
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Port));
        return socket;
    }

    /// <summary>Sends <paramref name="request"/> and reads until the response is complete or the peer closes.
    /// Returns the response text ("" if the connection closed without one).</summary>
    public static async Task<string> ExchangeAsync(Socket socket, byte[] request, int timeoutMs = 5000)
    {
        if (request.Length > 0)
        {
            await socket.SendAsync(request, SocketFlags.None);
        }

        return await ReadResponseAsync(socket, timeoutMs);
    }

    public static Task<string> ExchangeAsync(Socket socket, string request, int timeoutMs = 5000) =>
        ExchangeAsync(socket, Encoding.Latin1.GetBytes(request), timeoutMs);

    public static async Task<string> ReadResponseAsync(Socket socket, int timeoutMs = 5000)
    {
        using var timeout = new CancellationTokenSource(timeoutMs);
        var received = new List<byte>();
        var chunk = new byte[8192];
        try
        {
            while (!IsComplete(received))
            {
                var n = await socket.ReceiveAsync(chunk, SocketFlags.None, timeout.Token);
                if (n == 0)
                {
                    break;
                }

                received.AddRange(chunk.AsSpan(0, n));
            }
        }
        catch (SocketException)
        {
            // Reset by the gateway: whatever arrived is the answer.
        }

        return Encoding.Latin1.GetString(received.ToArray());
    }

    /// <summary>True when the peer has closed the connection (a read returns 0 or fails) within the timeout.</summary>
    public static async Task<bool> IsClosedAsync(Socket socket, int timeoutMs)
    {
        using var timeout = new CancellationTokenSource(timeoutMs);
        var chunk = new byte[8192];
        try
        {
            while (true)
            {
                if (await socket.ReceiveAsync(chunk, SocketFlags.None, timeout.Token) == 0)
                {
                    return true;
                }
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Origin.DisposeAsync();
    }

    private static bool IsComplete(List<byte> received)
    {
        var text = Encoding.Latin1.GetString(received.ToArray());
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0)
        {
            return false;
        }

        var at = text.IndexOf("Content-Length:", StringComparison.OrdinalIgnoreCase);
        if (at < 0 || at > end)
        {
            return text.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase) ? text.EndsWith("0\r\n\r\n", StringComparison.Ordinal) : false;
        }

        var lineEnd = text.IndexOf('\r', at);
        var length = int.Parse(text[(at + 15)..lineEnd].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        return received.Count >= end + 4 + length;
    }
}
