using System.Globalization;
using Tether.FunctionalTests.Infrastructure;
using Tether.Upstream.Pooling;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Pooling;

/// <summary>
/// pool.learnIdleTimeout on real sockets: a backend that closes idle connections after a fixed time and never
/// says so. Three client requests held for different times leave three pooled connections of staggered idle
/// ages; the backend closes the oldest while the younger ones are open, which the sweep sees. Then Tether gives
/// connections up itself, before the backend would.
/// </summary>
public sealed class IdleTimeoutLearningTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_backends_unannounced_idle_timeout_is_learned_and_connections_are_given_up_before_it()
    {
        // 2 s, not less: the learned timeout is the close age less a quarter (~1.45 s here), which leaves the final
        // sweep ~0.5 s before the backend closes; at 1 s it had ~0.3 s, and a loaded machine once ran the sweep late.
        var backendIdle = TimeSpan.FromSeconds(2);
        await using var origin = RawOrigin.Serve(
            async (request, connection) =>
            {
                if (request.Target.StartsWith("/hold/", StringComparison.Ordinal))
                {
                    await Task.Delay(int.Parse(request.Target["/hold/".Length..], CultureInfo.InvariantCulture));
                }

                await connection.RespondAsync(200, "ok");
            },
            idleTimeout: backendIdle);
        await using var gateway = await TestGateway.StartAsync(origin.Address, sweepInterval: TimeSpan.FromMilliseconds(50), output: output);
        var clients = new List<RawClient>();
        for (var i = 0; i < 3; i++)
        {
            clients.Add(await gateway.ConnectAsync());
        }

        try
        {
            var pool = gateway.Pool();
            for (var round = 0; round < 4 && pool.LearnedIdleTimeout is null; round++)
            {
                // Three connections, returned 300 ms apart; each is closed by the backend 2 s after its response.
                var responses = await Task.WhenAll(clients.Select((c, i) => c.GetAsync($"/hold/{100 + (i * 300)}")));
                Assert.All(responses, r => Assert.Equal(200, r.Status));
                await Eventually.TrueAsync(() => pool.IdleCount == 0, "the backend should close all three", TimeSpan.FromSeconds(5));
            }

            var learned = pool.LearnedIdleTimeout;
            var closedAt = gateway.PoolStatistics().IdleAgeAtPeerClose.Min;
            output.WriteLine($"backend closes after {backendIdle.TotalMilliseconds} ms idle; smallest idle age found closed {closedAt?.TotalMilliseconds:F0} ms; learned {learned?.TotalMilliseconds:F0} ms");
            Assert.NotNull(learned);
            Assert.True(learned < closedAt, $"learned {learned} is not below {closedAt}");
            Assert.True(learned > TimeSpan.Zero);
            var logged = Assert.Single(gateway.Logs.Named("IdleTimeoutLearned"));
            Assert.Contains($"destination={origin.Address}", logged.Message, StringComparison.Ordinal);
            Assert.Contains($"after {Math.Round(learned!.Value.TotalSeconds, 3).ToString(CultureInfo.CurrentCulture)}s", logged.Message, StringComparison.Ordinal);

            // Now a connection left idle is given up by Tether (an idle timeout), not found closed by the backend: the
            // learned timeout is ~1.45 s, so a sweep (every 50 ms) has ~0.5 s to spare even on a loaded machine.
            var peerClosed = gateway.PoolStatistics().Closed(ConnectionCloseReason.PeerClosed);
            var idleTimeouts = gateway.PoolStatistics().Closed(ConnectionCloseReason.IdleTimeout);
            Assert.Equal(200, (await clients[0].GetAsync("/")).Status);
            await Eventually.TrueAsync(() => pool.IdleCount == 0, "the idle connection should be closed", TimeSpan.FromSeconds(5));
            Assert.Equal(idleTimeouts + 1, gateway.PoolStatistics().Closed(ConnectionCloseReason.IdleTimeout));
            Assert.Equal(peerClosed, gateway.PoolStatistics().Closed(ConnectionCloseReason.PeerClosed));
        }
        finally
        {
            foreach (var c in clients)
            {
                await c.DisposeAsync();
            }
        }
    }
}
