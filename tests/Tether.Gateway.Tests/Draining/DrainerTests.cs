using Microsoft.Extensions.Logging.Abstractions;
using Tether.Configuration;
using Tether.Gateway.Draining;
using Tether.Gateway.Listeners;
using Tether.Testing;

namespace Tether.Gateway.Tests.Draining;

public sealed class DrainerTests
{
    private static readonly TimeSpan _wait = TimeSpan.FromSeconds(10);
    private readonly ManualTimeProvider _time = new();
    private readonly DownstreamStatistics _statistics = new();
    private readonly TaskCompletionSource<CancellationToken> _stopCalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stopDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _poolsClosed;

    [Fact]
    public async Task Readiness_turns_at_once_and_listeners_stop_only_after_the_delay()
    {
        var drainer = new Drainer(_statistics, _time, NullLogger.Instance);
        Assert.True(drainer.IsReady);

        var completed = drainer.RunAsync(new DrainConfig { Delay = TimeSpan.FromSeconds(5), Timeout = TimeSpan.FromSeconds(30) }, "test", StopAsync, ClosePools);

        Assert.False(drainer.IsReady);
        Assert.False(drainer.IsClosing);
        _time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        Assert.False(_stopCalled.Task.IsCompleted);

        _time.Advance(TimeSpan.FromTicks(1));
        var token = await _stopCalled.Task.WaitAsync(_wait);
        Assert.True(drainer.IsClosing);
        Assert.False(token.IsCancellationRequested);

        _stopDone.SetResult();
        var summary = await completed.WaitAsync(_wait);
        Assert.False(summary.TimedOut);
        Assert.Equal(0, summary.RequestsAborted);
        Assert.Equal(1, _poolsClosed);
    }

    [Fact]
    public async Task Connections_drained_counts_those_open_when_closing_began_and_those_taken_from_the_accept_queue()
    {
        var drainer = new Drainer(_statistics, _time, NullLogger.Instance);
        for (var i = 0; i < 3; i++)
        {
            _statistics.OnAccepted();
            _statistics.OnHandled();
        }

        // Taking the accept queue: one more connection is accepted, and the three idle ones close at once (engine).
        Task StopAccepting()
        {
            _statistics.OnAccepted();
            _statistics.OnHandled();
            for (var i = 0; i < 3; i++)
            {
                _statistics.OnClosed();
            }

            return Task.CompletedTask;
        }

        var completed = drainer.RunAsync(new DrainConfig { Timeout = TimeSpan.FromSeconds(30) }, "test", StopAsync, ClosePools, StopAccepting);
        await _stopCalled.Task.WaitAsync(_wait);
        _stopDone.SetResult();

        Assert.Equal(4, (await completed.WaitAsync(_wait)).ConnectionsDrained);
    }

    [Fact]
    public async Task What_is_still_in_flight_at_the_timeout_is_aborted_and_counted()
    {
        var drainer = new Drainer(_statistics, _time, NullLogger.Instance);
        _statistics.OnRequestStarted();
        _statistics.OnRequestStarted();
        _statistics.OnRequestStarted();

        var completed = drainer.RunAsync(new DrainConfig { Timeout = TimeSpan.FromSeconds(30) }, "test", StopAsync, ClosePools);
        var token = await _stopCalled.Task.WaitAsync(_wait);

        // One request finishes in time; two are still running when the deadline fires.
        _statistics.OnRequestEnded();
        _time.Advance(TimeSpan.FromSeconds(30) - TimeSpan.FromTicks(1));
        Assert.False(token.IsCancellationRequested);
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.True(token.IsCancellationRequested);
        _statistics.OnRequestEnded();
        _statistics.OnRequestEnded();
        _stopDone.SetResult();

        var summary = await completed.WaitAsync(_wait);
        Assert.True(summary.TimedOut);
        Assert.Equal(2, summary.RequestsAborted);
        Assert.Equal(1, summary.RequestsCompleted);
    }

    [Fact]
    public async Task A_second_request_skips_the_delay_and_aborts_at_once()
    {
        var drainer = new Drainer(_statistics, _time, NullLogger.Instance);
        var completed = drainer.RunAsync(new DrainConfig { Delay = TimeSpan.FromMinutes(1), Timeout = TimeSpan.FromMinutes(1) }, "test", StopAsync, ClosePools);
        Assert.False(_stopCalled.Task.IsCompleted);

        drainer.Abort();

        var token = await _stopCalled.Task.WaitAsync(_wait);
        Assert.True(token.IsCancellationRequested);
        _stopDone.SetResult();
        await completed.WaitAsync(_wait);

        // Running it again returns the first drain's result and stops nothing twice.
        Assert.Same(completed, drainer.RunAsync(new DrainConfig(), "again", StopAsync, ClosePools));
        Assert.Equal(1, _poolsClosed);
    }

    [Fact]
    public async Task Accepting_stops_after_the_delay_and_the_listeners_close_only_once_the_queued_connections_are_taken()
    {
        var drainer = new Drainer(_statistics, _time, NullLogger.Instance);
        var stopAcceptingCalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var queueEmpty = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task StopAcceptingAsync()
        {
            Assert.True(drainer.IsClosing); // the connections it accepts are answered with Connection: close
            stopAcceptingCalled.TrySetResult();
            await queueEmpty.Task;
        }

        var completed = drainer.RunAsync(new DrainConfig { Delay = TimeSpan.FromSeconds(5), Timeout = TimeSpan.FromSeconds(30) }, "test", StopAsync, ClosePools, StopAcceptingAsync);
        _time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        Assert.False(stopAcceptingCalled.Task.IsCompleted);

        _time.Advance(TimeSpan.FromTicks(1));
        await stopAcceptingCalled.Task.WaitAsync(_wait);
        Assert.False(_stopCalled.Task.IsCompleted);

        queueEmpty.SetResult();
        await _stopCalled.Task.WaitAsync(_wait);
        _stopDone.SetResult();
        await completed.WaitAsync(_wait);
    }

    private async Task StopAsync(CancellationToken deadline)
    {
        _stopCalled.TrySetResult(deadline);
        await _stopDone.Task;
    }

    private void ClosePools() => Interlocked.Increment(ref _poolsClosed);
}
