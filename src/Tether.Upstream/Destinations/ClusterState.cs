using System.Net;
using Tether.Configuration;
using Tether.Upstream.Connecting;
using Tether.Upstream.Discovery;
using Tether.Upstream.Health;
using Tether.Upstream.Http1;
using Tether.Upstream.LoadBalancing;
using Tether.Upstream.Retries;

namespace Tether.Upstream.Destinations;

/// <summary>
/// One cluster at run time: its destinations (a set swapped whole when DNS changes), policy, health checker,
/// retry budget and timeouts. Built with the gateway model and disposed with it, which stops its probes and
/// DNS refreshes and closes every pool.
/// </summary>
public sealed class ClusterState : IDisposable
{
    private readonly object _lock = new();
    private readonly TimeProvider _timeProvider;

    // One entry per configured destination, in config order. Guarded by _lock.
    private readonly DestinationState[][] _groups;

    // Removed destinations still finishing requests; disposed by Sweep once idle. Guarded by _lock.
    private readonly List<DestinationState> _draining = [];

    private readonly ActiveHealthChecker? _checker;
    private readonly DnsRefresher? _refresher;
    private readonly IDisposable? _discovery;
    private bool _discoveredOnce;
    private volatile DestinationSet _set;

    public ClusterState(
        string name, ClusterConfig config, TimeProvider timeProvider, IHostResolver? resolver = null, IClusterObserver? observer = null,
        IDestinationDiscovery? discovery = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        Name = name;
        Config = config;
        _timeProvider = timeProvider;
        Observer = observer ?? NullClusterObserver.Instance;
        ResponseTimeout = config.ResponseTimeout;
        ReadTimeouts = new ReadTimeouts(config.ResponseTimeout, config.ReadIdleTimeout);
        Policy = LoadBalancingPolicies.Create(config.LoadBalancing);
        RetryBudget = new RetryBudget(config.Retries, timeProvider);
        HashKey = Configuration.HashKey.TryParse(config.ConsistentHash.Key, out var key) ? key : new HashKey(HashKeySource.ClientIp, "");

        // Files (CA bundle, client certificate) are read once here, for every https:// destination of the cluster.
        if (config.Destinations.Any(d => d.UseTls))
        {
            Tls = new UpstreamTlsClient(config.Tls);
        }

        var hostNames = new List<(int, string, bool)>();

        // With destinationsFrom, one more group at the end: the discovered destinations, empty until the first answer.
        _groups = new DestinationState[config.Destinations.Count + (config.DestinationsFrom is null ? 0 : 1)][];
        if (config.DestinationsFrom is not null)
        {
            _groups[^1] = [];
        }

        for (var i = 0; i < config.Destinations.Count; i++)
        {
            var destination = config.Destinations[i];

            // Until the first answer, a host name itself is the destination (the socket resolves it on connect);
            // an SRV name has no port to connect to, so it has no destination until its records arrive.
            _groups[i] = destination.Srv ? [] : [new DestinationState(name, destination, config, timeProvider, tls: Tls)];
            if (destination.Srv || !IPAddress.TryParse(destination.Host, out _))
            {
                hostNames.Add((i, destination.Host, destination.Srv));
            }
        }

        HostNames = hostNames;
        _set = Flatten();

        if (config.HealthCheck.Active is { } active)
        {
            _checker = new ActiveHealthChecker(this, active, timeProvider);
            _checker.Start();
        }

        if (config.DestinationsFrom is not null && discovery is not null)
        {
            _discovery = discovery.Start(this);
        }

        if (hostNames.Count > 0)
        {
            _refresher = new DnsRefresher(this, resolver ?? SystemHostResolver.Instance, config.ResolveInterval, config.ResolveMinInterval, timeProvider);
            _refresher.Start();
        }
    }

    public string Name { get; }

    public ClusterConfig Config { get; }

    public TimeSpan ResponseTimeout { get; }

    /// <summary>responseTimeout and readIdleTimeout, as HTTP/1.1 response reads take them.</summary>
    public ReadTimeouts ReadTimeouts { get; }

    /// <summary>TLS to the cluster's https:// destinations; null when it has none.</summary>
    public UpstreamTlsClient? Tls { get; }

    public ILoadBalancingPolicy Policy { get; }

    public RetryBudget RetryBudget { get; }

    /// <summary>What consistentHash hashes (the gateway reads it from the request).</summary>
    public HashKey HashKey { get; }

    public bool UsesHashKey => Policy is ConsistentHashPolicy;

    public TimeProvider TimeProvider => _timeProvider;

    public IClusterObserver Observer { get; }

    /// <summary>The destinations now; a request keeps the set it ranked.</summary>
    public DestinationSet Set => _set;

    public IReadOnlyList<DestinationState> Destinations => _set.Items;

    /// <summary>Destinations removed by DNS that still have requests in flight.</summary>
    public IReadOnlyList<DestinationState> Draining
    {
        get
        {
            lock (_lock)
            {
                return [.. _draining];
            }
        }
    }

    /// <summary>Configured destinations written as host names or srv:// names: (index in config, name, SRV or not).</summary>
    internal IReadOnlyList<(int Group, string Host, bool Srv)> HostNames { get; }

    /// <summary>
    /// Up to <paramref name="ranked"/>.Length available destinations of <paramref name="set"/>, most preferred
    /// first, as indexes into its items. 0 means no destination is available (all ejected or unhealthy).
    /// </summary>
    public int Rank(DestinationSet set, ulong hash, bool hasHash, Span<int> ranked) =>
        Rank(set, hash, hasHash, ranked, _timeProvider.GetTimestamp());

    /// <summary>As <see cref="Rank(DestinationSet, ulong, bool, Span{int})"/>, at a timestamp the caller already read.</summary>
    public int Rank(DestinationSet set, ulong hash, bool hasHash, Span<int> ranked, long timestamp)
    {
        ArgumentNullException.ThrowIfNull(set);
        return Policy.Rank(set, new PickContext(timestamp, hash, hasHash), ranked);
    }

    /// <summary>A response head below 500 arrived from <paramref name="destination"/>.</summary>
    public void ReportSuccess(DestinationState destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        destination.Health.ReportSuccess();
    }

    /// <summary>An attempt on <paramref name="destination"/> failed in a way that speaks against it (or got a 5xx).</summary>
    public void ReportFailure(DestinationState destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (_set.Items.Length <= 1)
        {
            // A lone destination is never ejected (nginx ignores max_fails for a lone server too): there is
            // nowhere else to send its traffic, and ejecting it would only turn its 502s into 503s for a while
            // after it has come back.
            return;
        }

        if (destination.Health.ReportFailure() is { } duration)
        {
            Observer.Ejected(Name, destination.Name, Config.HealthCheck.Passive.ConsecutiveFailures, duration, (int)destination.Health.Ejections);
        }
    }

    /// <summary>Probes every destination now (the checker's timer does this each interval). Tests call it.</summary>
    public Task ProbeNowAsync(CancellationToken cancellationToken) =>
        _checker?.ProbeAllAsync(cancellationToken) ?? Task.CompletedTask;

    /// <summary>Done once the host names written in the config have been resolved for the first time (at once when
    /// there are none). Until then a name is its own destination, resolved by the socket on connect.</summary>
    public Task FirstResolution => _refresher?.FirstRefresh ?? Task.CompletedTask;

    /// <summary>Resolves the host names now (the refresher does this each resolveInterval). Tests call it.</summary>
    public Task ResolveNowAsync(CancellationToken cancellationToken) =>
        _refresher?.RefreshAsync(cancellationToken) ?? Task.CompletedTask;

    /// <summary>The A/AAAA answer of a host name (addresses; the configured port and weight apply).</summary>
    internal void ApplyResolved(int group, IPAddress[] addresses) =>
        ApplyResolved(group, [.. addresses.Select(a => new ResolvedEndpoint(a, 0, 0))]);

    /// <summary>
    /// The endpoints of configured destination <paramref name="group"/> are now <paramref name="endpoints"/> (an
    /// endpoint's port and weight 0 = the configured ones; an SRV weight 0 counts as 1): keep the states of
    /// endpoints still listed with the same port and weight, add new ones (in slow start), drain the rest.
    /// </summary>
    internal void ApplyResolved(int group, IReadOnlyList<ResolvedEndpoint> endpoints)
    {
        var configured = Config.Destinations[group];
        int added;
        int drained;
        int total;
        bool firstAnswer;
        lock (_lock)
        {
            var current = _groups[group];
            firstAnswer = current.Length == 0 || current[0].ResolvedFrom is null;
            var next = new List<DestinationState>(endpoints.Count);
            added = 0;
            foreach (var endpoint in endpoints)
            {
                var port = endpoint.Port > 0 ? endpoint.Port : configured.Port;
                var weight = configured.Srv ? Math.Clamp(endpoint.Weight, 1, MaxSrvWeight) : configured.Weight;
                if (Find(next, endpoint.Address, port, weight) is not null)
                {
                    continue; // the resolver listed it twice
                }

                if (Find(current, endpoint.Address, port, weight) is { } kept)
                {
                    next.Add(kept);
                    continue;
                }

                var host = endpoint.Address.ToString();
                var config = configured with { Host = host, Port = port, Weight = weight, Srv = false, Address = configured.Address };
                var state = new DestinationState(Name, config, Config, _timeProvider, resolvedFrom: endpoint.Target ?? configured.Host, tls: Tls);
                if (!firstAnswer)
                {
                    // A newcomer to a running fleet ramps up; the first answer replaces the name with its addresses as they are.
                    state.Health.BeginSlowStart();
                }

                next.Add(state);
                added++;
            }

            if (!Swap(group, next, added, out drained))
            {
                return;
            }

            total = next.Count;
        }

        Observer.DestinationsChanged(Name, configured.Host, added, drained, total, firstAnswer);
    }

    /// <summary>
    /// The destinations a discovery source (etcd keys under clusters.&lt;name&gt;.destinationsFrom) lists now: keep
    /// the states of those still listed (same address and weight), add new ones (in slow start after the first
    /// answer), drain the rest as DNS does. An empty list is applied too: every key of the prefix is gone.
    /// </summary>
    public void ApplyDiscovered(IReadOnlyList<DestinationConfig> destinations, string source)
    {
        ArgumentNullException.ThrowIfNull(destinations);
        if (Config.DestinationsFrom is null)
        {
            throw new InvalidOperationException($"cluster {Name} has no destinationsFrom");
        }

        var group = _groups.Length - 1;
        int added;
        int drained;
        bool firstAnswer;
        lock (_lock)
        {
            var current = _groups[group];
            firstAnswer = !_discoveredOnce;
            _discoveredOnce = true;
            var next = new List<DestinationState>(destinations.Count);
            added = 0;
            foreach (var destination in destinations)
            {
                if (next.Any(d => d.Config == destination))
                {
                    continue;
                }

                if (current.FirstOrDefault(d => d.Config == destination) is { } kept)
                {
                    next.Add(kept);
                    continue;
                }

                var state = new DestinationState(Name, destination, Config, _timeProvider, tls: Tls);
                if (!firstAnswer)
                {
                    state.Health.BeginSlowStart();
                }

                next.Add(state);
                added++;
            }

            if (!Swap(group, next, added, out drained))
            {
                return;
            }
        }

        Observer.DestinationsChanged(Name, source, added, drained, destinations.Count, firstAnswer);
    }

    // Under _lock: group becomes `next`; its states not in `next` drain. False when nothing changed.
    private bool Swap(int group, List<DestinationState> next, int added, out int drained)
    {
        drained = 0;
        foreach (var old in _groups[group])
        {
            if (!next.Contains(old))
            {
                drained++;
                if (!old.BeginDrain())
                {
                    _draining.Add(old);
                }
            }
        }

        if (added == 0 && drained == 0)
        {
            return false;
        }

        _groups[group] = [.. next];
        _set = Flatten();
        return true;
    }

    /// <summary>Closes expired idle connections in every pool, and the pools of drained destinations now idle.</summary>
    public void Sweep()
    {
        foreach (var d in _set.Items)
        {
            var learned = d.Pool.LearnedIdleTimeout;
            d.Pool.Sweep();
            if (d.Pool.LearnedIdleTimeout is { } now && now != learned)
            {
                Observer.IdleTimeoutLearned(Name, d.Name, now, d.Pool.Statistics.IdleAgeAtPeerClose.Min);
            }
        }

        lock (_lock)
        {
            _draining.RemoveAll(static d => d.TryFinishDrain());
        }
    }

    public void Dispose()
    {
        _checker?.Dispose();
        _refresher?.Dispose();
        _discovery?.Dispose();
        lock (_lock)
        {
            foreach (var group in _groups)
            {
                foreach (var d in group)
                {
                    d.Dispose();
                }
            }

            foreach (var d in _draining)
            {
                d.Dispose();
            }

            _draining.Clear();
        }
    }

    // The weights a destination may have in config (ConfigValidator's bound); SRV weights go up to 65535.
    private const int MaxSrvWeight = 1000;

    private static DestinationState? Find(IEnumerable<DestinationState> states, IPAddress address, int port, int weight)
    {
        foreach (var s in states)
        {
            if (s.EndPoint is IPEndPoint ip && ip.Address.Equals(address) && ip.Port == port && s.Config.Weight == weight)
            {
                return s;
            }
        }

        return null;
    }

    // Called under _lock (or in the constructor).
    private DestinationSet Flatten()
    {
        var items = new List<DestinationState>();
        foreach (var group in _groups)
        {
            items.AddRange(group);
        }

        return new DestinationSet([.. items]);
    }
}
