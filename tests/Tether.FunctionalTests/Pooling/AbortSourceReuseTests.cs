using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Pooling;

/// <summary>
/// The engine pools RequestAborted's sources: a connection gives its source back when it goes idle and another
/// connection's request may take it. A client that leaves while idle must abort nothing but its own connection.
/// </summary>
public sealed class AbortSourceReuseTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_client_that_leaves_while_idle_does_not_abort_another_connections_request()
    {
        var slowSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var origin = RawOrigin.Serve(async (request, connection) =>
        {
            if (request.Target == "/slow")
            {
                slowSeen.TrySetResult();
                await release.Task.WaitAsync(TimeSpan.FromSeconds(10));
            }

            await connection.RespondAsync(200, request.Target);
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);

        // A's request asks for RequestAborted (the forwarder does) and gives the source back when A goes idle.
        var a = await gateway.ConnectAsync();
        Assert.Equal(200, (await a.GetAsync("/fast")).Status);

        // B's request may now hold that source while the backend thinks.
        var b = await gateway.ConnectAsync();
        await b.SendAsync(RawClient.Request("GET", "/slow"));
        await slowSeen.Task.WaitAsync(TimeSpan.FromSeconds(5));

        // A leaves while idle: its close watch ends A, and must not cancel the source B's request holds.
        await a.DisposeAsync();
        await Eventually.TrueAsync(() => gateway.Gateway.Counters.ClientAbortedCount == 0 && origin.Requests.Count == 2,
            "the origin did not see both requests");
        release.SetResult();

        var response = await b.ReadResponseAsync();
        Assert.Equal(200, response.Status);
        Assert.Equal("/slow", response.BodyText);
        Assert.Equal(0, gateway.Gateway.Counters.ClientAbortedCount);
        await b.DisposeAsync();
    }
}
