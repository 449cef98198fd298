using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Tether.Gateway.Protection;
using Tether.Testing;

namespace Tether.Gateway.Tests.Protection;

/// <summary>
/// A stop must not wait for an HTTP/2 pipeline Kestrel abandoned (a reset flood: its socket is closed, its task never
/// completes). The middleware's task completes one grace after both the stop's close request and the socket's close,
/// and not on either alone. The abandoned pipeline is a task that never completes.
/// </summary>
public class AbandonedPipelineTests
{
    private sealed class Lifetime : IConnectionLifetimeNotificationFeature
    {
        public CancellationTokenSource Closing { get; } = new();

        public CancellationToken ConnectionClosedRequested { get => Closing.Token; set => throw new NotSupportedException(); }

        public void RequestClose() => Closing.Cancel();
    }

    private static (DefaultConnectionContext Connection, CancellationTokenSource SocketClosed, Lifetime Lifetime) Connection()
    {
        var socketClosed = new CancellationTokenSource();
        var lifetime = new Lifetime();
        var connection = new DefaultConnectionContext { ConnectionClosed = socketClosed.Token };
        connection.Features.Set<IConnectionLifetimeNotificationFeature>(lifetime);
        return (connection, socketClosed, lifetime);
    }

    private static readonly ConnectionDelegate _abandoned = _ => new TaskCompletionSource().Task;

    [Fact]
    public async Task A_stop_after_the_socket_closed_ends_the_wait_one_grace_later()
    {
        var time = new ManualTimeProvider();
        var (connection, socketClosed, lifetime) = Connection();
        var task = AbandonedPipeline.RunAsync(_abandoned, connection, time);

        socketClosed.Cancel();
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.False(task.IsCompleted); // the socket alone: a pipeline may still be finishing a request

        lifetime.RequestClose();
        time.Advance(AbandonedPipeline.Grace - TimeSpan.FromTicks(1));
        Assert.False(task.IsCompleted);
        time.Advance(TimeSpan.FromTicks(1));
        await task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task The_socket_closing_during_a_stop_ends_the_wait_too()
    {
        var time = new ManualTimeProvider();
        var (connection, socketClosed, lifetime) = Connection();
        var task = AbandonedPipeline.RunAsync(_abandoned, connection, time);

        lifetime.RequestClose();
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.False(task.IsCompleted); // a graceful close with the socket open is Kestrel's to finish

        socketClosed.Cancel();
        time.Advance(AbandonedPipeline.Grace);
        await task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_pipeline_that_completes_is_awaited_with_its_outcome()
    {
        var time = new ManualTimeProvider();
        var (connection, _, _) = Connection();
        var done = new TaskCompletionSource();
        var task = AbandonedPipeline.RunAsync(_ => done.Task, connection, time);

        Assert.False(task.IsCompleted);
        done.SetException(new InvalidOperationException("pipeline failed"));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("pipeline failed", error.Message);
    }
}
