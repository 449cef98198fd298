using System.Net;
using System.Net.Sockets;
using Tether.Configuration;
using Tether.Upstream.Connecting;
using Tether.Upstream.Destinations;

namespace Tether.Upstream.Tests.Connecting;

/// <summary>The socket options a cluster asks for, read back from the kernel on a real loopback connection.</summary>
public sealed class UpstreamSocketOptionsTests
{
    [Fact]
    public async Task A_default_cluster_turns_tcp_keepalive_on_with_60s_10s_6()
    {
        using var transport = await ConnectAsync(new ClusterConfig());

        var socket = transport.Socket;
        Assert.Equal(1, (int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)!);
        Assert.Equal(60, (int)socket.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime)!);
        Assert.Equal(10, (int)socket.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval)!);
        Assert.Equal(6, (int)socket.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount)!);
        Assert.Equal(0, SocketOptions.GetTcpUserTimeoutMilliseconds(socket));
    }

    [Fact]
    public async Task TcpKeepAlive_off_leaves_SO_KEEPALIVE_unset()
    {
        using var transport = await ConnectAsync(new ClusterConfig { TcpKeepAlive = null });

        Assert.Equal(0, (int)transport.Socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)!);
    }

    [Fact]
    public async Task TcpUserTimeout_is_set_in_milliseconds()
    {
        using var transport = await ConnectAsync(new ClusterConfig { TcpUserTimeout = TimeSpan.FromMilliseconds(2500) });

        Assert.Equal(2500, SocketOptions.GetTcpUserTimeoutMilliseconds(transport.Socket));
    }

    private static async Task<UpstreamTransport> ConnectAsync(ClusterConfig cluster)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var destination = new DestinationConfig { Address = $"127.0.0.1:{port}", Host = "127.0.0.1", Port = port };
        var state = new DestinationState("api", destination, cluster with { Destinations = [destination] }, TimeProvider.System);
        var accept = listener.AcceptSocketAsync();
        var transport = await state.Connector.ConnectAsync(default, AlpnOffer.Http1, CancellationToken.None);
        (await accept).Dispose();
        return transport;
    }
}
