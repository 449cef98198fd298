using Tether.Upstream.Destinations;

namespace Tether.Upstream.Discovery;

/// <summary>
/// Resolves a cluster's host-name and srv:// destinations at start and then again when their answers expire:
/// after the smallest record TTL, bounded by resolveMinInterval and resolveInterval (resolveInterval alone when
/// the resolver gives no TTLs). Each answer goes to the cluster, which adds new endpoints and drains vanished
/// ones. A failed or empty answer keeps the previous endpoints: a DNS hiccup must not empty a cluster.
/// </summary>
internal sealed class DnsRefresher : IDisposable
{
    private readonly ClusterState _cluster;
    private readonly IHostResolver _resolver;
    private readonly TimeSpan? _interval;
    private readonly TimeSpan _minInterval;
    private readonly TimeProvider _timeProvider;
    private readonly CancellationTokenSource _stopping = new();

    // Completed once the first round of answers (or failures) has been applied.
    private readonly TaskCompletionSource _firstRefresh = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public DnsRefresher(ClusterState cluster, IHostResolver resolver, TimeSpan? interval, TimeSpan minInterval, TimeProvider timeProvider)
    {
        _cluster = cluster;
        _resolver = resolver;
        _interval = interval;
        _minInterval = minInterval;
        _timeProvider = timeProvider;
    }

    public void Start() => _ = LoopAsync();

    /// <summary>Done once the first resolution of every host name has been applied (answer or failure): a client that
    /// must not connect to the bare name first awaits it (Tether.Client).</summary>
    public Task FirstRefresh => _firstRefresh.Task;

    /// <summary>Resolves every name once and applies the answers; returns the smallest TTL seen (null: none).
    /// Tests call it directly.</summary>
    public async Task<TimeSpan?> RefreshAsync(CancellationToken cancellationToken)
    {
        TimeSpan? ttl = null;
        foreach (var (group, host, srv) in _cluster.HostNames)
        {
            DnsAnswer answer;
            try
            {
                answer = await LookUpAsync(host, srv, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                _cluster.Observer.ResolveFailed(_cluster.Name, host, ex.Message);
                continue;
            }

            if (answer.Endpoints.Count == 0)
            {
                _cluster.Observer.ResolveFailed(_cluster.Name, host, "no addresses");
                continue;
            }

            if (answer.Ttl is { } answerTtl && (ttl is null || answerTtl < ttl))
            {
                ttl = answerTtl;
            }

            _cluster.ApplyResolved(group, answer.Endpoints);
        }

        return ttl;
    }

    /// <summary>The wait before the next refresh: the TTL raised to minInterval, then capped at interval (which
    /// wins when set below minInterval); the interval when the TTL is unknown.</summary>
    internal static TimeSpan NextWait(TimeSpan? ttl, TimeSpan interval, TimeSpan minInterval)
    {
        if (ttl is not { } t)
        {
            return interval;
        }

        t = t < minInterval ? minInterval : t;
        return t > interval ? interval : t;
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private async Task<DnsAnswer> LookUpAsync(string host, bool srv, CancellationToken cancellationToken)
    {
        if (_resolver is IRecordResolver records)
        {
            return srv
                ? await records.ResolveServiceAsync(host, cancellationToken).ConfigureAwait(false)
                : await records.ResolveAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        }

        if (srv)
        {
            throw new NotSupportedException("this resolver cannot read SRV records");
        }

        var addresses = await _resolver.ResolveAsync(host, cancellationToken).ConfigureAwait(false);
        return new DnsAnswer([.. addresses.Select(a => new ResolvedEndpoint(a, 0, 0))], null);
    }

    private async Task LoopAsync()
    {
        var token = _stopping.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                var ttl = await RefreshAsync(token).ConfigureAwait(false);
                _firstRefresh.TrySetResult();
                if (_interval is not { } interval)
                {
                    return;
                }

                await Task.Delay(NextWait(ttl, interval, _minInterval), _timeProvider, token).ConfigureAwait(false);
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
