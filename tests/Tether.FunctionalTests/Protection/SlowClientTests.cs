using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Tether.Configuration;
using Tether.Gateway.Protection;

namespace Tether.FunctionalTests.Protection;

/// <summary>Slowloris, slow body and slow read: each closed by Kestrel's timers and counted by reason.</summary>
public class SlowClientTests
{
    [Fact]
    public async Task Slow_headers_are_closed_at_requestHeadersTimeout_and_counted()
    {
        await using var gateway = await ProtectionGateway.StartAsync(d => d with { RequestHeadersTimeout = TimeSpan.FromSeconds(2) });
        using var client = await gateway.ConnectAsync();
        var clock = Stopwatch.StartNew();
        await client.SendAsync("GET / HTTP/1.1\r\nHost: x\r\nX-a: b\r\n"u8.ToArray(), SocketFlags.None);

        var response = await ProtectionGateway.ReadResponseAsync(client, 5000);
        Assert.StartsWith("HTTP/1.1 408 ", response, StringComparison.Ordinal);
        // Never before requestHeadersTimeout, at most a second after it.
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.9), TimeSpan.FromSeconds(3.2));
        Assert.Equal(1, await gateway.ClosedEventuallyAsync(ProtectionCloseReason.SlowHeaders, 1));
        Assert.Empty(gateway.Origin.Requests);
    }

    [Fact]
    public async Task Slow_body_is_closed_below_minRequestBodyRate_and_counted()
    {
        await using var gateway = await ProtectionGateway.StartAsync(d => d with
        {
            MinRequestBodyRate = new DataRateConfig { BytesPerSecond = 10_000, Grace = TimeSpan.FromSeconds(1.5) },
        });
        using var client = await gateway.ConnectAsync();
        await client.SendAsync("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc"u8.ToArray(), SocketFlags.None);

        Assert.True(await ProtectionGateway.IsClosedAsync(client, 5000), "the slow body was not cut off");
        Assert.Equal(1, await gateway.ClosedEventuallyAsync(ProtectionCloseReason.SlowBody, 1));
        Assert.Empty(gateway.Origin.Requests);
    }

    [Fact]
    public async Task Slow_read_is_closed_below_minResponseRate_and_counted()
    {
        await using var gateway = await ProtectionGateway.StartAsync(d => d with
        {
            MinResponseRate = new DataRateConfig { BytesPerSecond = 1_000_000, Grace = TimeSpan.FromSeconds(1.5) },
        });
        using var client = await gateway.ConnectAsync();
        client.ReceiveBufferSize = 4096;
        await client.SendAsync(Encoding.ASCII.GetBytes("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"), SocketFlags.None);

        // The client never reads: once the socket buffers are full Kestrel's writes stall and the rate check fires.
        Assert.Equal(1, await gateway.ClosedEventuallyAsync(ProtectionCloseReason.SlowRead, 1, timeoutMs: 8000));
    }

    [Fact]
    public async Task A_client_that_keeps_up_is_not_cut_off()
    {
        await using var gateway = await ProtectionGateway.StartAsync(d => d with
        {
            RequestHeadersTimeout = TimeSpan.FromSeconds(1),
            MinRequestBodyRate = new DataRateConfig { BytesPerSecond = 1000, Grace = TimeSpan.FromSeconds(1.5) },
        });
        using var client = await gateway.ConnectAsync();
        for (var i = 0; i < 3; i++)
        {
            var response = await ProtectionGateway.ExchangeAsync(client, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
            Assert.StartsWith("HTTP/1.1 200 ", response, StringComparison.Ordinal);
        }

        Assert.Equal(0, gateway.Closed(ProtectionCloseReason.SlowHeaders));
        Assert.Equal(0, gateway.Closed(ProtectionCloseReason.SlowBody));
    }
}
