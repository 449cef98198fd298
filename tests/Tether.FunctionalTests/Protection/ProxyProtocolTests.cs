using System.Net;
using System.Net.Sockets;
using System.Text;
using Tether.Configuration;
using Tether.Gateway.Protection;
using Tether.Gateway.ProxyProtocol;

namespace Tether.FunctionalTests.Protection;

/// <summary>PROXY protocol in (listener) and out (cluster), with spoofing attempts from untrusted peers.</summary>
public class ProxyProtocolTests
{
    private const string Get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    private static readonly IPEndPoint _client = new(IPAddress.Parse("203.0.113.7"), 40000);
    private static readonly IPEndPoint _frontend = new(IPAddress.Parse("198.51.100.1"), 443);

    private static Task<ProtectionGateway> StartAsync(ProxyProtocolMode mode, Func<Tether.Configuration.DownstreamConfig, Tether.Configuration.DownstreamConfig>? downstream = null) =>
        ProtectionGateway.StartAsync(downstream, l => l with
        {
            ProxyProtocol = new ProxyProtocolConfig { Mode = mode, TrustedNetworks = ["127.0.0.1/32"], Timeout = TimeSpan.FromSeconds(1) },
        });

    private static byte[] With(byte[] header, string request) => [.. header, .. Encoding.ASCII.GetBytes(request)];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_header_from_a_trusted_peer_names_the_client(int version)
    {
        await using var gateway = await StartAsync(ProxyProtocolMode.Required);
        using var socket = await gateway.ConnectAsync("127.0.0.1");
        var header = version == 1 ? ProxyHeaderWriter.WriteV1(_client, _frontend) : ProxyHeaderWriter.WriteV2(_client, _frontend);
        Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(socket, With(header, Get)), StringComparison.Ordinal);
        Assert.Equal("203.0.113.7", gateway.Origin.Header(0, "X-Forwarded-For"));

        // Keep-alive: the second request on the connection still belongs to the same client.
        Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(socket, Get), StringComparison.Ordinal);
        Assert.Equal("203.0.113.7", gateway.Origin.Header(1, "X-Forwarded-For"));
    }

    [Theory]
    [InlineData(ProxyProtocolMode.Required)]
    [InlineData(ProxyProtocolMode.Optional)]
    public async Task A_header_from_an_untrusted_peer_closes_the_connection(ProxyProtocolMode mode)
    {
        await using var gateway = await StartAsync(mode);
        using var spoofer = await gateway.ConnectAsync("127.0.0.2");
        Assert.Equal("", await ProtectionGateway.ExchangeAsync(spoofer, With(ProxyHeaderWriter.WriteV1(_client, _frontend), Get), 2000));
        Assert.Empty(gateway.Origin.Requests);
        Assert.Equal(1, gateway.Closed(ProtectionCloseReason.ProxyProtocolUntrusted));
    }

    [Fact]
    public async Task Optional_mode_serves_plain_connections_and_honours_headers_from_trusted_peers()
    {
        await using var gateway = await StartAsync(ProxyProtocolMode.Optional);
        using (var plain = await gateway.ConnectAsync("127.0.0.2"))
        {
            Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(plain, Get), StringComparison.Ordinal);
        }

        using (var proxied = await gateway.ConnectAsync("127.0.0.1"))
        {
            Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(proxied, With(ProxyHeaderWriter.WriteV2(_client, _frontend), Get)), StringComparison.Ordinal);
        }

        Assert.Equal("127.0.0.2", gateway.Origin.Header(0, "X-Forwarded-For"));
        Assert.Equal("203.0.113.7", gateway.Origin.Header(1, "X-Forwarded-For"));
    }

    [Fact]
    public async Task Required_mode_closes_a_connection_without_a_header()
    {
        await using var gateway = await StartAsync(ProxyProtocolMode.Required);
        using var socket = await gateway.ConnectAsync("127.0.0.1");
        Assert.Equal("", await ProtectionGateway.ExchangeAsync(socket, Get, 2000));
        Assert.Equal(1, gateway.Closed(ProtectionCloseReason.ProxyProtocolMissing));
        Assert.Empty(gateway.Origin.Requests);
    }

    [Fact]
    public async Task Required_mode_closes_a_trusted_peer_that_sends_nothing_at_the_timeout()
    {
        await using var gateway = await StartAsync(ProxyProtocolMode.Required);
        using var socket = await gateway.ConnectAsync("127.0.0.1");
        await socket.SendAsync("PROXY TCP4 203.0"u8.ToArray(), SocketFlags.None);
        Assert.True(await ProtectionGateway.IsClosedAsync(socket, 3000));
        Assert.Equal(1, gateway.Closed(ProtectionCloseReason.ProxyProtocolMissing));
    }

    [Theory]
    [InlineData("PROXY TCP4 203.0.113.7 198.51.100.1 99999 443\r\n")]
    [InlineData("PROXY TCP4 203.0.113.7 198.51.100.1 1 443\n")]
    public async Task A_malformed_header_closes_the_connection(string header)
    {
        await using var gateway = await StartAsync(ProxyProtocolMode.Required);
        using var socket = await gateway.ConnectAsync("127.0.0.1");
        Assert.Equal("", await ProtectionGateway.ExchangeAsync(socket, header + Get, 2000));
        Assert.Equal(1, gateway.Closed(ProtectionCloseReason.ProxyProtocolInvalid));
        Assert.Empty(gateway.Origin.Requests);
    }

    [Fact]
    public async Task An_oversized_v2_header_closes_the_connection()
    {
        await using var gateway = await StartAsync(ProxyProtocolMode.Required);
        using var socket = await gateway.ConnectAsync("127.0.0.1");
        var header = ProxyHeaderWriter.WriteV2(_client, _frontend)[..16];
        header[14] = 0x20; // 8 KiB of TLVs announced
        header[15] = 0x00;
        Assert.Equal("", await ProtectionGateway.ExchangeAsync(socket, header, 2000));
        Assert.Equal(1, gateway.Closed(ProtectionCloseReason.ProxyProtocolInvalid));
    }

    [Fact]
    public async Task The_per_client_cap_counts_the_address_from_the_header()
    {
        await using var gateway = await StartAsync(ProxyProtocolMode.Required, d => d with { MaxConnectionsPerClient = 1 });
        using var first = await gateway.ConnectAsync("127.0.0.1");
        using var second = await gateway.ConnectAsync("127.0.0.1");
        using var sameClient = await gateway.ConnectAsync("127.0.0.1");
        var other = new IPEndPoint(IPAddress.Parse("203.0.113.8"), 40001);
        Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(first, With(ProxyHeaderWriter.WriteV1(_client, _frontend), Get)), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(second, With(ProxyHeaderWriter.WriteV1(other, _frontend), Get)), StringComparison.Ordinal);
        Assert.Equal("", await ProtectionGateway.ExchangeAsync(sameClient, With(ProxyHeaderWriter.WriteV1(_client, _frontend), Get), 2000));
        Assert.Equal(1, gateway.Closed(ProtectionCloseReason.PerClientLimit));
    }

    [Theory]
    [InlineData(ProxyProtocolVersion.V1)]
    [InlineData(ProxyProtocolVersion.V2)]
    public async Task A_cluster_with_proxyProtocol_sends_each_clients_own_header_on_its_own_connection(ProxyProtocolVersion version)
    {
        await using var gateway = await ProtectionGateway.StartAsync(cluster: c => c with { ProxyProtocol = version });
        foreach (var from in new[] { "127.0.0.2", "127.0.0.3" })
        {
            using var socket = await gateway.ConnectAsync(from);
            Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(socket, Get), StringComparison.Ordinal);
        }

        var headers = gateway.Origin.ProxyHeaders.ToArray();
        Assert.Equal(2, headers.Length);
        Assert.Equal(version == ProxyProtocolVersion.V1 ? 1 : 2, headers[0].Version);
        Assert.Equal(IPAddress.Parse("127.0.0.2"), headers[0].Source!.Address);
        Assert.Equal(IPAddress.Parse("127.0.0.3"), headers[1].Source!.Address);
        Assert.Equal(gateway.Port, headers[0].Destination!.Port);
        Assert.Equal(2, gateway.Origin.Connections);
    }

    [Fact]
    public async Task A_client_named_by_an_incoming_header_is_named_in_the_outgoing_one()
    {
        await using var gateway = await ProtectionGateway.StartAsync(
            listener: l => l with { ProxyProtocol = new ProxyProtocolConfig { Mode = ProxyProtocolMode.Required, TrustedNetworks = ["127.0.0.0/8"] } },
            cluster: c => c with { ProxyProtocol = ProxyProtocolVersion.V2 });
        using var socket = await gateway.ConnectAsync();
        Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(socket, With(ProxyHeaderWriter.WriteV1(_client, _frontend), Get)), StringComparison.Ordinal);
        var header = Assert.Single(gateway.Origin.ProxyHeaders);
        Assert.Equal(_client, header.Source);
        Assert.Equal(_frontend, header.Destination);
    }
}
