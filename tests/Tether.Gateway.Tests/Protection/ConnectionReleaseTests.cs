using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;
using Tether.Gateway.Protection;

namespace Tether.Gateway.Tests.Protection;

/// <summary>
/// Kestrel can abandon an HTTP/2 connection's pipeline (a Rapid Reset flood that overflows its output queue:
/// "application never completed"), so a slot held by a connection middleware must also come back when the
/// transport reports the connection closed, and exactly once.
/// </summary>
public class ConnectionReleaseTests
{
    private static readonly IPEndPoint _client = new(IPAddress.Parse("192.0.2.7"), 40000);

    private static DefaultConnectionContext Connection(CancellationTokenSource closed) =>
        new() { ConnectionClosed = closed.Token, RemoteEndPoint = _client };

    [Fact]
    public async Task A_pipeline_that_never_completes_gives_its_global_slot_back_when_the_connection_closes()
    {
        var limiter = new ConnectionLimiter(maxConnections: 1, maxConnectionsPerClient: 0);
        var never = new TaskCompletionSource();
        var middleware = new ConnectionLimitMiddleware(_ => never.Task, limiter, new ConnectionCloseCounters(), NullLogger.Instance);
        using var closed = new CancellationTokenSource();

        var running = middleware.OnConnectionAsync(Connection(closed));
        Assert.Equal(1, limiter.Total);
        Assert.False(limiter.TryAcquire()); // the cap is taken while the connection is open

        await closed.CancelAsync();
        Assert.Equal(0, limiter.Total);
        Assert.False(running.IsCompleted); // the abandoned pipeline is still not done; the slot is back all the same
    }

    [Fact]
    public async Task A_pipeline_that_returns_and_then_closes_gives_its_slot_back_once()
    {
        var limiter = new ConnectionLimiter(maxConnections: 2, maxConnectionsPerClient: 0);
        var middleware = new ConnectionLimitMiddleware(_ => Task.CompletedTask, limiter, new ConnectionCloseCounters(), NullLogger.Instance);
        using var closed = new CancellationTokenSource();

        await middleware.OnConnectionAsync(Connection(closed));
        await closed.CancelAsync();
        Assert.Equal(0, limiter.Total);
    }

    [Fact]
    public async Task A_connection_that_closes_and_then_returns_gives_its_slot_back_once()
    {
        var limiter = new ConnectionLimiter(maxConnections: 2, maxConnectionsPerClient: 0);
        var done = new TaskCompletionSource();
        var middleware = new ConnectionLimitMiddleware(_ => done.Task, limiter, new ConnectionCloseCounters(), NullLogger.Instance);
        using var closed = new CancellationTokenSource();

        var running = middleware.OnConnectionAsync(Connection(closed));
        await closed.CancelAsync();
        done.SetResult();
        await running;
        Assert.Equal(0, limiter.Total);
    }

    [Fact]
    public async Task A_pipeline_that_never_completes_gives_its_per_client_slot_back_when_the_connection_closes()
    {
        var limiter = new ConnectionLimiter(maxConnections: 0, maxConnectionsPerClient: 1);
        var never = new TaskCompletionSource();
        var middleware = new ClientConnectionMiddleware(_ => never.Task, limiter, new NetworkList([]), new ConnectionCloseCounters(), NullLogger.Instance);
        using var closed = new CancellationTokenSource();

        _ = middleware.OnConnectionAsync(Connection(closed));
        Assert.Equal(1, limiter.ClientCount(_client.Address));

        await closed.CancelAsync();
        Assert.Equal(0, limiter.ClientCount(_client.Address));
    }

    [Fact]
    public async Task A_pipeline_that_never_completes_is_counted_closed_when_the_connection_closes()
    {
        var statistics = new Listeners.DownstreamStatistics();
        var never = new TaskCompletionSource();
        var middleware = new Listeners.DownstreamConnectionMiddleware(_ => never.Task, statistics, new Configuration.DownstreamConfig(), TimeProvider.System);
        using var closed = new CancellationTokenSource();

        _ = middleware.OnConnectionAsync(Connection(closed));
        Assert.Equal(1, statistics.Active);

        await closed.CancelAsync();
        Assert.Equal(0, statistics.Active);
    }
}
