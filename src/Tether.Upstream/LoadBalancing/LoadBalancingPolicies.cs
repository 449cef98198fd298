using Tether.Configuration;

namespace Tether.Upstream.LoadBalancing;

public static class LoadBalancingPolicies
{
    public static ILoadBalancingPolicy Create(string name) => name switch
    {
        LoadBalancingPolicyNames.LeastConnections => new LeastConnectionsPolicy(),
        LoadBalancingPolicyNames.PowerOfTwoChoices => new PowerOfTwoChoicesPolicy(),
        LoadBalancingPolicyNames.RoundRobin => new RoundRobinPolicy(),
        LoadBalancingPolicyNames.Random => new RandomPolicy(),
        LoadBalancingPolicyNames.ConsistentHash => new ConsistentHashPolicy(),
        _ => throw new ArgumentException($"unknown load-balancing policy '{name}'", nameof(name)),
    };
}
