using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Pooling;

/// <summary>
/// maxConnectionsPerDestination counts every connection until it is closed or idle again. A failure path that
/// forgets to give its slot back shrinks the destination for good: with a cap of 1, the next request waits
/// out queueTimeout and gets a 503.
/// </summary>
public sealed class CapacityTests(ITestOutputHelper output)
{
    [Fact]
    public async Task No_failure_path_leaks_a_connection_slot()
    {
        await using var origin = RawOrigin.Start(async connection =>
        {
            while (await connection.ReadRequestAsync() is { } request)
            {
                switch (request.Target)
                {
                    case "/invalid":
                        await connection.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n");
                        await connection.WaitForPeerCloseAsync(TimeSpan.FromSeconds(10));
                        return;
                    case "/stall":
                        await connection.WaitForPeerCloseAsync(TimeSpan.FromSeconds(10));
                        return;
                    case "/drop":
                        return;
                    case "/reset":
                        connection.Reset();
                        return;
                    case "/cut":
                        await connection.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten!!");
                        return;
                    case "/close-delimited":
                        await connection.WriteAsync("HTTP/1.1 200 OK\r\n\r\nuntil close");
                        return;
                    case "/upgrade":
                        await connection.WriteAsync("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nbye");
                        return;
                    default:
                        await connection.RespondAsync(200, "ok");
                        break;
                }
            }
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, c => c with
        {
            ResponseTimeout = TimeSpan.FromMilliseconds(300),
            Pool = c.Pool with { MaxConnectionsPerDestination = 1, QueueTimeout = TimeSpan.FromSeconds(2) },
        }, output: output);

        foreach (var (target, extra) in new[]
        {
            ("/invalid", ""), ("/stall", ""), ("/drop", ""), ("/reset", ""), ("/cut", ""), ("/close-delimited", ""),
            ("/upgrade", "Connection: Upgrade\r\nUpgrade: websocket\r\n"), ("/abandoned", ""),
        })
        {
            await using (var client = await gateway.ConnectAsync())
            {
                await client.SendAsync($"GET {target} HTTP/1.1\r\nHost: tether.test\r\n{extra}\r\n");
                if (target == "/abandoned")
                {
                    // Leave as soon as the origin has it: a client abort while the request is in flight.
                    await Eventually.TrueAsync(() => origin.Requests.Any(r => r.Target == "/abandoned"), "the origin never saw /abandoned");
                }
                else
                {
                    try
                    {
                        var response = await client.ReadResponseAsync();
                        output.WriteLine($"{target}: {response.Status}");
                    }
                    catch (EndOfStreamException)
                    {
                        // "/cut": the abort may overtake the head. What this test checks comes next.
                        output.WriteLine($"{target}: connection closed");
                    }
                }
            }

            await using var next = await gateway.ConnectAsync();
            var ok = await next.GetAsync("/ok");
            Assert.True(ok.Status == 200, $"after {target}: {ok.Status} {ok.BodyText}");
        }

        await Eventually.TrueAsync(() => gateway.Pool().LeasedCount == 0, $"{gateway.Pool().LeasedCount} connection(s) still counted as in use");
        Assert.Equal(0, gateway.Pool().WaitingCount);
        Assert.Equal(0, gateway.PoolStatistics().QueueTimeouts);
    }
}
