using Tether.Configuration;
using Tether.Upstream.Destinations;

namespace Tether.Upstream.Health;

/// <summary>
/// Probes every destination of one cluster each interval, all at once, each on its own connection. A tick
/// that finds the previous one still running is skipped (timeout ≤ interval makes that rare), so probes
/// never pile up on a slow destination.
/// </summary>
internal sealed class ActiveHealthChecker : IDisposable
{
    private readonly ClusterState _cluster;
    private readonly ActiveHealthCheckConfig _config;
    private readonly StatusRange _expected;
    private readonly TimeProvider _timeProvider;
    private readonly CancellationTokenSource _stopping = new();
    private ITimer? _timer;
    private int _running;

    public ActiveHealthChecker(ClusterState cluster, ActiveHealthCheckConfig config, TimeProvider timeProvider)
    {
        _cluster = cluster;
        _config = config;
        _timeProvider = timeProvider;
        _expected = StatusRange.TryParse(config.ExpectedStatus, out var range) ? range : new StatusRange(200, 399);
    }

    public void Start() =>
        _timer = _timeProvider.CreateTimer(static s => ((ActiveHealthChecker)s!).OnTick(), this, TimeSpan.Zero, _config.Interval);

    /// <summary>Probes every destination once and records the verdicts. Tests call it directly.</summary>
    public async Task ProbeAllAsync(CancellationToken cancellationToken)
    {
        var items = _cluster.Set.Items;
        var probes = new Task[items.Length];
        for (var i = 0; i < items.Length; i++)
        {
            probes[i] = ProbeOneAsync(items[i], cancellationToken);
        }

        await Task.WhenAll(probes).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _timer?.Dispose();
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private async Task ProbeOneAsync(DestinationState destination, CancellationToken cancellationToken)
    {
        ProbeResult result;
        if (destination.Http2 is { } http2 && await UsesHttp2Async(destination, cancellationToken).ConfigureAwait(false))
        {
            result = await http2.ProbeAsync(destination.HostHeader, _config.Path, _expected, _config.Timeout, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            result = await HealthProbe.ProbeAsync(
                destination.Connector, destination.HostHeader, _config.Path, _expected, _config.Timeout, _timeProvider, cancellationToken).ConfigureAwait(false);
        }

        if (destination.Health.ReportProbe(result.Passed))
        {
            _cluster.Observer.ProbeStateChanged(_cluster.Name, destination.Name, result.Passed, result.Detail);
        }
    }

    // An "auto" destination that cannot even be connected to is probed over HTTP/1.1, which then fails the same way.
    private static async ValueTask<bool> UsesHttp2Async(DestinationState destination, CancellationToken cancellationToken)
    {
        try
        {
            return await destination.UsesHttp2Async(cancellationToken).ConfigureAwait(false);
        }
        catch (UpstreamException)
        {
            return false;
        }
    }

    private void OnTick()
    {
        if (Interlocked.Exchange(ref _running, 1) == 1)
        {
            return;
        }

        _ = RunTickAsync();
    }

    private async Task RunTickAsync()
    {
        try
        {
            await ProbeAllAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
        catch (ObjectDisposedException)
        {
            // Stopped while a probe was starting.
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }
}
