using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Tether.Configuration;
using Tether.Gateway.Listeners;

namespace Tether.Gateway.Draining;

/// <summary>What a drain did, for the log line and for tests.</summary>
public sealed record DrainSummary(long ConnectionsDrained, long RequestsCompleted, long RequestsAborted, TimeSpan Elapsed, bool TimedOut);

/// <summary>
/// Graceful shutdown in Kestrel's two-phase shape (ConnectionManagerShutdownExtensions): readiness turns 503,
/// after <c>drain.delay</c> the listeners stop accepting and every connection is asked to close (HTTP/1.1:
/// <c>Connection: close</c> on its next response, idle ones at once; HTTP/2: GOAWAY), then after
/// <c>drain.timeout</c> whatever is left — requests and upgraded tunnels — is aborted. Kestrel's
/// <c>StopAsync(token)</c> does the asking and the aborting; this class sequences it, bounds it, and counts.
/// </summary>
internal sealed partial class Drainer(DownstreamStatistics statistics, TimeProvider timeProvider, ILogger logger)
{
    private const int Serving = 0;
    private const int NotReady = 1;
    private const int Closing = 2;

    private static readonly TimeSpan CloseGracePoll = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan CloseGraceMax = TimeSpan.FromMilliseconds(100);

    private readonly TaskCompletionSource<DrainSummary> _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _begun = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _abort = new();
    private volatile int _phase;
    private int _started;

    /// <summary>False from the moment a drain starts: what GET /readyz reports.</summary>
    public bool IsReady => _phase == Serving;

    public bool IsDraining => _phase != Serving;

    /// <summary>True once the listeners are closing: every HTTP/1.1 response says <c>Connection: close</c>.</summary>
    public bool IsClosing => _phase == Closing;

    /// <summary>Completes when a drain has finished (listeners stopped, pools closed).</summary>
    public Task<DrainSummary> Completed => _completed.Task;

    /// <summary>Completes when a drain starts, whatever started it (what systemd is told as STOPPING=1).</summary>
    public Task Begun => _begun.Task;

    /// <summary>
    /// Runs the drain once; later calls return the first one's result. <paramref name="stopAccepting"/>, if given,
    /// runs first once the delay is over: it must make the listeners take no new connection and complete once what
    /// the kernel had queued for them is accepted. <paramref name="stopListeners"/> must stop accepting, ask
    /// connections to close, and abort what is left when its token fires.
    /// </summary>
    public Task<DrainSummary> RunAsync(
        DrainConfig drain, string cause, Func<CancellationToken, Task> stopListeners, Action closePools, Func<Task>? stopAccepting = null)
    {
        ArgumentNullException.ThrowIfNull(drain);
        ArgumentNullException.ThrowIfNull(stopListeners);
        ArgumentNullException.ThrowIfNull(closePools);
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _begun.TrySetResult();
            _ = RunOnceAsync(drain, cause, stopListeners, closePools, stopAccepting);
        }

        return _completed.Task;
    }

    /// <summary>A second signal: skip what is left of the delay and abort every connection now.</summary>
    public void Abort()
    {
        Log.AbortRequested(logger);
        _abort.Cancel();
    }

    private async Task RunOnceAsync(DrainConfig drain, string cause, Func<CancellationToken, Task> stopListeners, Action closePools, Func<Task>? stopAccepting)
    {
        try
        {
            _completed.TrySetResult(await DrainAsync(drain, cause, stopListeners, closePools, stopAccepting).ConfigureAwait(false));
        }
        catch (Exception e)
        {
            _completed.TrySetException(e);
        }
    }

    private async Task<DrainSummary> DrainAsync(
        DrainConfig drain, string cause, Func<CancellationToken, Task> stopListeners, Action closePools, Func<Task>? stopAccepting)
    {
        var started = timeProvider.GetTimestamp();
        _phase = NotReady;
        Log.Started(logger, cause, drain.Delay.TotalSeconds, drain.Timeout.TotalSeconds);
        if (drain.Delay > TimeSpan.Zero && !_abort.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(drain.Delay, timeProvider, _abort.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        // From here on every HTTP/1.1 response closes its connection; Kestrel does the same for requests it
        // has not started yet, this covers responses already being produced.
        _phase = Closing;

        // New connections are no longer taken from here on, and the ones the kernel already completed are accepted
        // (and answered with Connection: close) rather than reset by the listener's close; the grace below then
        // lets them finish too.
        // Counted before the accept queue is taken and the idle connections close (which the engine does at once, so
        // counting after it said "0 connection(s) drained"): those open now, plus those taken from the queue.
        var connections = statistics.Active;
        var handledBefore = statistics.Handled;
        if (stopAccepting is not null && !_abort.IsCancellationRequested)
        {
            await stopAccepting().ConfigureAwait(false);
        }

        connections += Math.Max(0, statistics.Handled - handledBefore);
        await CloseGraceAsync(drain).ConfigureAwait(false);
        var endedBefore = Ended();
        long abortedRequests = 0;
        var timedOut = false;
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token))
        {
            using var timer = timeProvider.CreateTimer(static s => ((CancellationTokenSource)s!).Cancel(), deadline, drain.Timeout, Timeout.InfiniteTimeSpan);

            // What is still in flight when the deadline fires is what Kestrel is about to abort.
            using var onDeadline = deadline.Token.Register(() =>
            {
                timedOut = true;
                Interlocked.Exchange(ref abortedRequests, statistics.Writing);
            });
            await stopListeners(deadline.Token).ConfigureAwait(false);
        }

        closePools();
        var aborted = Interlocked.Read(ref abortedRequests);
        var completed = Math.Max(0, Ended() - endedBefore - aborted);
        var summary = new DrainSummary(connections, completed, aborted, timeProvider.GetElapsedTime(started), timedOut);
        Log.Finished(logger, summary.ConnectionsDrained, summary.RequestsCompleted, summary.RequestsAborted, summary.Elapsed.TotalSeconds);
        return summary;
    }

    // Busy keep-alive connections now close themselves after their next response (Connection: close). Give them
    // a moment before the listeners stop: Kestrel then closes every connection it sees between requests, and
    // on a busy connection the client's next request is often already on the wire (the client side of the
    // keep-alive race; wrk counted ~20 read errors per drain of 64 busy connections without this). A busy
    // connection answers within milliseconds, so 100 ms is plenty, and the listeners still stop right after
    // drain.delay as far as anyone can tell (new connections are accepted meanwhile and answered with
    // Connection: close). Bounded by a quarter of drain.timeout too; skipped when nothing is open.
    private async Task CloseGraceAsync(DrainConfig drain)
    {
        // Wall time, not the gateway's TimeProvider: this waits for real sockets to close (a test clock that
        // nobody advances would otherwise hold every drain, and every test gateway's dispose, forever).
        var grace = TimeSpan.FromTicks(Math.Min(CloseGraceMax.Ticks, drain.Timeout.Ticks / 4));
        var start = Stopwatch.GetTimestamp();
        while (statistics.Active > 0 && !_abort.IsCancellationRequested && Stopwatch.GetElapsedTime(start) < grace)
        {
            try
            {
                await Task.Delay(CloseGracePoll, _abort.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    // Requests finished so far (completed or aborted); the two reads are not atomic, so it may be off by the
    // requests that start between them, which the summary tolerates.
    private long Ended() => statistics.Requests - statistics.Writing;

    private static partial class Log
    {
        [LoggerMessage(EventId = 4000, EventName = "DrainStarted", Level = LogLevel.Information,
            Message = "draining ({Cause}): readiness is 503 now; listeners close in {DelaySeconds}s; in-flight requests then get {TimeoutSeconds}s")]
        public static partial void Started(ILogger logger, string cause, double delaySeconds, double timeoutSeconds);

        [LoggerMessage(EventId = 4001, EventName = "DrainFinished", Level = LogLevel.Information,
            Message = "drained: {Connections} connection(s) drained, {Completed} request(s) completed, {Aborted} request(s) aborted, in {Seconds:0.000}s")]
        public static partial void Finished(ILogger logger, long connections, long completed, long aborted, double seconds);

        [LoggerMessage(EventId = 4002, EventName = "DrainAborted", Level = LogLevel.Warning,
            Message = "second stop request: aborting every connection now")]
        public static partial void AbortRequested(ILogger logger);
    }
}
