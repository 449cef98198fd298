using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
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
        // Never before requestHeadersTimeout; Kestrel checks it on its 1 s heartbeat, so up to a second after it, plus
        // scheduling slack when the whole suite runs in parallel on two cores (one run took longer than 3.2 s).
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.9), TimeSpan.FromSeconds(4));
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
    public async Task A_slow_small_body_is_answered_408_without_ever_touching_a_backend()
    {
        // Up to 64 KiB with a Content-Length, the body is received whole before a destination is chosen (nginx's
        // request buffering): a slow upload costs no backend connection.
        await using var gateway = await ProtectionGateway.StartAsync(d => d with
        {
            MinRequestBodyRate = new DataRateConfig { BytesPerSecond = 1000, Grace = TimeSpan.FromSeconds(1.5) },
        });
        using var client = await gateway.ConnectAsync();
        await client.SendAsync("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 8192\r\n\r\nabc"u8.ToArray(), SocketFlags.None);

        var response = await ProtectionGateway.ReadResponseAsync(client, 5000);
        Assert.StartsWith("HTTP/1.1 408 ", response, StringComparison.Ordinal);
        Assert.Equal(1, await gateway.ClosedEventuallyAsync(ProtectionCloseReason.SlowBody, 1));
        Assert.Equal(0, Volatile.Read(ref gateway.Origin.Connections));
        var line = Assert.Single(gateway.Logs.Named("ClientBadRequest"));
        Assert.Contains("destination=(none yet)", line.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Slow_body_after_the_head_went_upstream_gets_408_and_a_debug_line_not_an_error()
    {
        await using var gateway = await ProtectionGateway.StartAsync(d => d with
        {
            MinRequestBodyRate = new DataRateConfig { BytesPerSecond = 10_000, Grace = TimeSpan.FromSeconds(1.5) },
        });
        using var client = await gateway.ConnectAsync();
        // The first body bytes take the head to the backend; then the body stalls.
        await client.SendAsync("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc"u8.ToArray(), SocketFlags.None);

        var response = await ProtectionGateway.ReadResponseAsync(client, 5000);
        Assert.StartsWith("HTTP/1.1 408 ", response, StringComparison.Ordinal);
        Assert.Contains("Connection: close", response, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(1, await gateway.ClosedEventuallyAsync(ProtectionCloseReason.SlowBody, 1));
        var line = Assert.Single(gateway.Logs.Named("ClientBadRequest"));
        Assert.Equal(LogLevel.Debug, line.Level);
        Assert.Contains("408", line.Message, StringComparison.Ordinal);
        // Kestrel's "An unhandled exception was thrown by the application" (with a stack trace) is gone.
        Assert.DoesNotContain(gateway.Logs.Entries, e => e.Level >= LogLevel.Error);
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

    [Theory]
    [InlineData(16_384)]
    [InlineData(0)]
    public async Task SendBufferSize_caps_what_a_reader_that_stalls_leaves_queued_in_the_kernel(int sendBufferSize)
    {
        await using var gateway = await ProtectionGateway.StartAsync(d => d with { SendBufferSize = sendBufferSize, MinResponseRate = new DataRateConfig { BytesPerSecond = 0 } });
        using var client = await gateway.ConnectAsync();
        client.ReceiveBufferSize = 4096;
        await client.SendAsync(Encoding.ASCII.GetBytes("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"), SocketFlags.None);

        // The gateway's side of this connection in /proc/net/tcp: tx_queue is what sits in its send buffer.
        var clientPort = ((IPEndPoint)client.LocalEndPoint!).Port;
        long queued = 0;
        for (var i = 0; i < 20 && queued < 256 * 1024; i++)
        {
            await Task.Delay(100);
            queued = TcpTable.SendQueueBytes(localPort: gateway.Port, remotePort: clientPort);
        }

        if (sendBufferSize > 0)
        {
            // Linux doubles SO_SNDBUF for its bookkeeping: at most twice the setting is queued.
            Assert.InRange(queued, 1, 2 * sendBufferSize);
        }
        else
        {
            // The control: autotuned, the kernel takes far more from a client that does not read.
            Assert.True(queued >= 256 * 1024, $"only {queued} bytes queued without sendBufferSize");
        }
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
