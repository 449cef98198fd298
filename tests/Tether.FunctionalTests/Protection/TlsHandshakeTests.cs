using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Tether.Gateway.Protection;

namespace Tether.FunctionalTests.Protection;

/// <summary>A TLS listener: a real handshake is served; a client that never finishes one is cut off at
/// tlsHandshakeTimeout and counted.</summary>
public sealed class TlsHandshakeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tether-tls-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_client_that_never_completes_the_handshake_is_closed_at_tlsHandshakeTimeout_and_counted()
    {
        await using var gateway = await StartAsync(TimeSpan.FromSeconds(2));
        using var client = await gateway.ConnectAsync();
        var clock = Stopwatch.StartNew();

        // Half a TLS record header, then nothing: Kestrel waits for the ClientHello until the timeout.
        await client.SendAsync(new byte[] { 0x16, 0x03 }, SocketFlags.None);
        Assert.True(await ProtectionGateway.IsClosedAsync(client, 6000), "the stalled handshake was not cut off");
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(4));
        Assert.Equal(1, await gateway.ClosedEventuallyAsync(ProtectionCloseReason.TlsHandshake, 1));
        Assert.Empty(gateway.Origin.Requests);
    }

    [Fact]
    public async Task A_real_TLS_client_is_served_through_the_listener()
    {
        await using var gateway = await StartAsync(TimeSpan.FromSeconds(10));
        using var socket = await gateway.ConnectAsync();
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
            ApplicationProtocols = [SslApplicationProtocol.Http11],
        });

        await tls.WriteAsync("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"u8.ToArray());
        var response = await new StreamReader(tls, Encoding.Latin1).ReadToEndAsync();
        Assert.StartsWith("HTTP/1.1 200 ", response, StringComparison.Ordinal);
        Assert.Equal(0, gateway.Closed(ProtectionCloseReason.TlsHandshake));
        Assert.Single(gateway.Origin.Requests);
    }

    private Task<ProtectionGateway> StartAsync(TimeSpan handshakeTimeout)
    {
        var (certificate, key) = TestCertificates.WriteSelfSigned(_dir);
        return ProtectionGateway.StartAsync(
            d => d with { TlsHandshakeTimeout = handshakeTimeout },
            l => l with { Tls = new TlsConfig { Certificate = certificate, Key = key } });
    }
}
