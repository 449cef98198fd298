using Tether.Configuration;

namespace Tether.Upstream.LoadBalancing;

public static class LoadBalancingPolicies
{
    public static ILoadBalancingPolicy Create(string name) => name switch
    {
        LoadBalancingPolicyNames.RoundRobin => new RoundRobinPolicy(),
        LoadBalancingPolicyNames.LeastConnections => new LeastConnectionsPolicy(),
        _ => throw new ArgumentException($"unknown load-balancing policy '{name}'", nameof(name)),
    };
}
