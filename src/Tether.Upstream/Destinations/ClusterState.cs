using Tether.Configuration;
using Tether.Upstream.LoadBalancing;

namespace Tether.Upstream.Destinations;

/// <summary>One cluster at run time: its destinations, policy and timeouts.</summary>
public sealed class ClusterState : IDisposable
{
    public ClusterState(string name, ClusterConfig config, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(config);
        Name = name;
        Config = config;
        ResponseTimeout = config.ResponseTimeout;
        Policy = LoadBalancingPolicies.Create(config.LoadBalancing);
        var destinations = new DestinationState[config.Destinations.Count];
        for (var i = 0; i < destinations.Length; i++)
        {
            destinations[i] = new DestinationState(name, config.Destinations[i], config, timeProvider);
        }

        Destinations = destinations;
    }

    public string Name { get; }

    public ClusterConfig Config { get; }

    public TimeSpan ResponseTimeout { get; }

    public ILoadBalancingPolicy Policy { get; }

    public IReadOnlyList<DestinationState> Destinations { get; }

    public DestinationState? Pick() => Destinations.Count == 0 ? null : Policy.Pick(Destinations);

    /// <summary>Closes expired idle connections in every pool.</summary>
    public void Sweep()
    {
        foreach (var d in Destinations)
        {
            d.Pool.Sweep();
        }
    }

    public void Dispose()
    {
        foreach (var d in Destinations)
        {
            d.Dispose();
        }
    }
}
