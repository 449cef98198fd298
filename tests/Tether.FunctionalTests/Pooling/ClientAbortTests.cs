using Tether.FunctionalTests.Infrastructure;
using Tether.Upstream.Pooling;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Pooling;

/// <summary>A client that goes away mid-exchange leaves a backend connection in an unknown state: it is closed, never pooled.</summary>
public sealed class ClientAbortTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_client_that_leaves_while_the_backend_is_still_thinking_gets_the_upstream_connection_closed()
    {
        var requestSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var originSawClose = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var origin = RawOrigin.Start(async connection =>
        {
            await connection.ReadRequestAsync();
            requestSeen.SetResult();
            originSawClose.SetResult(await connection.WaitForPeerCloseAsync(TimeSpan.FromSeconds(10)));
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        var client = await gateway.ConnectAsync();

        await client.SendAsync(RawClient.Request("GET", "/slow"));
        await requestSeen.Task.WaitAsync(TimeSpan.FromSeconds(5));
        await client.DisposeAsync();

        Assert.True(await originSawClose.Task, "Tether kept the upstream connection of an abandoned request open");
        await Eventually.TrueAsync(() => gateway.Gateway.Counters.ClientAbortedCount == 1, "the abort was not counted");
        Assert.Equal(0, gateway.Pool().IdleCount);
        Assert.Equal(1, gateway.PoolStatistics().Closed(ConnectionCloseReason.Error));
        Assert.Empty(gateway.Logs.Named("UpstreamFailed"));
    }

    [Fact]
    public async Task A_client_that_leaves_in_the_middle_of_a_body_gets_the_upstream_connection_closed()
    {
        var originSawClose = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var origin = RawOrigin.Start(async connection =>
        {
            await connection.ReadRequestAsync();
            await connection.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + new string('a', 1000));
            originSawClose.SetResult(await connection.WaitForPeerCloseAsync(TimeSpan.FromSeconds(10)));
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        var client = await gateway.ConnectAsync();

        await client.SendAsync(RawClient.Request("GET", "/big"));
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            Assert.NotNull(await client.Reader.ReadHeadAsync(cts.Token));
        }

        await client.DisposeAsync();

        Assert.True(await originSawClose.Task, "Tether kept the upstream connection of an abandoned response open");
        await Eventually.TrueAsync(() => gateway.PoolStatistics().ClosedTotal == 1, "the upstream connection was not closed");
        Assert.Equal(0, gateway.Pool().IdleCount);
        Assert.Equal(0, gateway.PoolStatistics().Closed(ConnectionCloseReason.IdleTimeout) + gateway.PoolStatistics().Reused);
    }
}
