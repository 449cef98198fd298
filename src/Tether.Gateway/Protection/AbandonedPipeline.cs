using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace Tether.Gateway.Protection;

/// <summary>
/// Lets a server stop without waiting for HTTP/2 connections Kestrel has abandoned: once a stop has asked the
/// connection to close and its socket is gone, the rest of the pipeline gets <see cref="Grace"/> to finish, and
/// then this middleware's task completes without it.
/// </summary>
/// <remarks>
/// Kestrel (.NET 10) can leave an HTTP/2 connection's pipeline waiting forever for a stream after a reset flood
/// (<see cref="ConnectionRelease"/> explains how; it logs "application never completed" once the collector finds
/// it). Its connection manager holds connections weakly, so a collected one is skipped at stop, but one not yet
/// collected is waited for: its task never completes, and Kestrel's stop (ours: drain.timeout) ran to its end,
/// 31 s after a full acceptance run with no connection of Tether's open. Kestrel's stop waits for the task of the
/// outermost connection middleware, which is Tether's, so completing it is enough. Only both signals together
/// end the wait: a pipeline whose client has gone but which is still busy (a backend answering) finishes
/// normally outside a stop, and one being stopped with its socket open is Kestrel's graceful close.
/// </remarks>
internal static class AbandonedPipeline
{
    /// <summary>How long a pipeline whose socket is closed may still run once a stop asked it to close.</summary>
    internal static readonly TimeSpan Grace = TimeSpan.FromSeconds(1);

    public static Task RunAsync(ConnectionDelegate next, ConnectionContext connection, TimeProvider timeProvider)
    {
        var pipeline = next(connection);
        if (pipeline.IsCompleted || connection.Features.Get<IConnectionLifetimeNotificationFeature>() is not { } lifetime)
        {
            return pipeline;
        }

        return WhenDoneOrAbandonedAsync(pipeline, connection.ConnectionClosed, lifetime.ConnectionClosedRequested, timeProvider);
    }

    private static async Task WhenDoneOrAbandonedAsync(Task pipeline, CancellationToken socketClosed, CancellationToken stopRequested, TimeProvider timeProvider)
    {
        var watch = new Watch(socketClosed, stopRequested, timeProvider);
        using (socketClosed.UnsafeRegister(static s => ((Watch)s!).OnSignal(), watch))
        using (stopRequested.UnsafeRegister(static s => ((Watch)s!).OnSignal(), watch))
        {
            if (await Task.WhenAny(pipeline, watch.Abandoned).ConfigureAwait(false) != pipeline)
            {
                return; // nothing will complete it; what it holds is collected with it
            }
        }

        watch.Dispose();
        await pipeline.ConfigureAwait(false);
    }

    private sealed class Watch(CancellationToken socketClosed, CancellationToken stopRequested, TimeProvider timeProvider) : IDisposable
    {
        private readonly TaskCompletionSource _abandoned = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private ITimer? _timer;
        private int _armed;

        public Task Abandoned => _abandoned.Task;

        public void OnSignal()
        {
            if (socketClosed.IsCancellationRequested && stopRequested.IsCancellationRequested && Interlocked.Exchange(ref _armed, 1) == 0)
            {
                _timer = timeProvider.CreateTimer(static s => ((TaskCompletionSource)s!).TrySetResult(), _abandoned, Grace, Timeout.InfiniteTimeSpan);
            }
        }

        public void Dispose() => _timer?.Dispose();
    }
}
