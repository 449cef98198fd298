using System.Net;
using Tether.Upstream.Destinations;

namespace Tether.Upstream.Discovery;

/// <summary>
/// Resolves a cluster's host-name destinations at start and then every resolveInterval, and hands each
/// answer to the cluster, which adds new addresses and drains vanished ones. A failed or empty answer keeps
/// the previous addresses: a DNS hiccup must not empty a cluster.
/// </summary>
internal sealed class DnsRefresher : IDisposable
{
    private readonly ClusterState _cluster;
    private readonly IHostResolver _resolver;
    private readonly TimeSpan? _interval;
    private readonly TimeProvider _timeProvider;
    private readonly CancellationTokenSource _stopping = new();

    // Completed once the first round of answers (or failures) has been applied.
    private readonly TaskCompletionSource _firstRefresh = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public DnsRefresher(ClusterState cluster, IHostResolver resolver, TimeSpan? interval, TimeProvider timeProvider)
    {
        _cluster = cluster;
        _resolver = resolver;
        _interval = interval;
        _timeProvider = timeProvider;
    }

    public void Start() => _ = LoopAsync();

    /// <summary>Done once the first resolution of every host name has been applied (answer or failure): a client that
    /// must not connect to the bare name first awaits it (Tether.Client).</summary>
    public Task FirstRefresh => _firstRefresh.Task;

    /// <summary>Resolves every host name once and applies the answers. Tests call it directly.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        foreach (var (group, host) in _cluster.HostNames)
        {
            IPAddress[] addresses;
            try
            {
                addresses = await _resolver.ResolveAsync(host, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                _cluster.Observer.ResolveFailed(_cluster.Name, host, ex.Message);
                continue;
            }

            if (addresses.Length == 0)
            {
                _cluster.Observer.ResolveFailed(_cluster.Name, host, "no addresses");
                continue;
            }

            _cluster.ApplyResolved(group, addresses);
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private async Task LoopAsync()
    {
        var token = _stopping.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                await RefreshAsync(token).ConfigureAwait(false);
                _firstRefresh.TrySetResult();
                if (_interval is not { } interval)
                {
                    return;
                }

                await Task.Delay(interval, _timeProvider, token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
        catch (ObjectDisposedException)
        {
            // The cluster went away mid-refresh.
        }
        finally
        {
            _firstRefresh.TrySetResult();
        }
    }
}
