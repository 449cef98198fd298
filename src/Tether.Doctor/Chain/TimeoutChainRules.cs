using Tether.Configuration;
using Tether.Doctor.Endpoint;
using Tether.Doctor.Reporting;

namespace Tether.Doctor.Chain;

/// <summary>
/// The timeout-chain rule, hop by hop: the side that reuses an idle connection must give it up before the
/// side that closes it. Client pool expiry &lt; server idle timeout &lt; NAT/firewall idle timeout.
/// </summary>
public static class TimeoutChainRules
{
    /// <summary>Tether's pool (reuses) → a destination (closes).</summary>
    public static CheckResult Upstream(string clusterName, ClusterConfig cluster, DestinationConfig destination, DestinationIdle idle)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(idle);
        var id = $"chain.upstream.{clusterName}.{destination.Name}";
        var title = $"clusters.{clusterName} → {destination.Name}";
        var pool = cluster.Pool.IdleTimeout;
        var reuser = $"pool.idleTimeout {Units.Seconds(pool)}";
        var measured = idle.Measured;
        var advertised = idle.Advertised is { } a ? $", advertises Keep-Alive timeout={a.TotalSeconds:0}" : "";
        switch (measured.Kind)
        {
            case IdleTimeoutKind.Failed:
                return new CheckResult(id, title, Verdict.Fail, $"{reuser} vs destination: could not be probed",
                    $"Check that {destination.Name} is reachable from here.");
            case IdleTimeoutKind.NotKeptAlive:
                return new CheckResult(id, title, Verdict.Info, $"{reuser} vs destination: closes after every response{advertised}; nothing is reused");
            case IdleTimeoutKind.LongerThanBudget when idle.Advertised is null || idle.Advertised > pool:
                return new CheckResult(id, title, Verdict.Pass,
                    $"{reuser} < destination keeps idle connections longer than {Units.Duration(measured.LowerBound)}{advertised}");
        }

        // The limit the pool must stay under: what was measured (minus its uncertainty), or what the server
        // advertises if that is shorter.
        var limit = measured.SafeClientExpiry ?? measured.LowerBound;
        var closer = measured.Kind == IdleTimeoutKind.LongerThanBudget
            ? $"destination idle > {Units.Duration(measured.LowerBound)}"
            : $"destination closes after {Units.Duration(measured.Value)} ± {Units.Duration(measured.Uncertainty)}";
        if (idle.Advertised is { } header && header < limit)
        {
            limit = header;
        }

        var finding = $"{reuser} vs {closer}{advertised}";
        if (pool < limit)
        {
            return new CheckResult(id, title, Verdict.Pass, $"{reuser} < {closer}{advertised}");
        }

        return new CheckResult(id, title, Verdict.Fail, finding,
            $"The pool keeps idle connections longer than {destination.Name} does, so it will reuse connections the server has closed "
            + $"(the random 502). Set clusters.{clusterName}.pool.idleTimeout below {Units.Duration(limit)} "
            + $"(e.g. {Units.Seconds(EndpointJudge.SuggestedClientExpiry(limit))}).");
    }

    /// <summary>The load balancer in front (reuses its connections to Tether) → Tether downstream (closes).</summary>
    public static CheckResult Front(DownstreamConfig downstream, ChainConfig chain)
    {
        ArgumentNullException.ThrowIfNull(downstream);
        ArgumentNullException.ThrowIfNull(chain);
        const string Id = "chain.front";
        const string Title = "front load balancer → Tether";
        var closer = $"downstream.keepAliveTimeout {Units.Seconds(downstream.KeepAliveTimeout)}";
        if (chain.FrontIdleTimeout is not { } front)
        {
            return new CheckResult(Id, Title, Verdict.Info, $"chain.frontIdleTimeout not set vs {closer}",
                "Declare the idle timeout of the load balancer in front (e.g. chain.frontIdleTimeout = \"60s\" for an AWS ALB) to check this hop.");
        }

        var reuser = $"chain.frontIdleTimeout {Units.Seconds(front)}";
        return front < downstream.KeepAliveTimeout
            ? new CheckResult(Id, Title, Verdict.Pass, $"{reuser} < {closer}")
            : new CheckResult(Id, Title, Verdict.Fail, $"{reuser} vs {closer}",
                $"Tether closes idle client connections before the load balancer stops reusing them: it will send requests on closed "
                + $"connections and answer 502. Set downstream.keepAliveTimeout above {Units.Seconds(front)} (e.g. {Units.Seconds(front + TimeSpan.FromSeconds(15))}).");
    }

    /// <summary>Tether's idle upstream connections (kept alive by TCP keepalive, or given up by the pool) → a NAT/firewall (forgets).</summary>
    public static CheckResult Nat(string clusterName, ClusterConfig cluster, ChainConfig chain)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(chain);
        var id = $"chain.nat.{clusterName}";
        var title = $"clusters.{clusterName} → NAT/firewall";
        if (chain.NatIdleTimeout is not { } nat)
        {
            return new CheckResult(id, title, Verdict.Info, "chain.natIdleTimeout not set",
                "If a NAT gateway or firewall sits between Tether and this cluster, declare its idle timeout (AWS NAT gateway: 350s) to check this hop.");
        }

        var closer = $"chain.natIdleTimeout {Units.Seconds(nat)}";
        if (cluster.TcpKeepAlive is { } keepAlive)
        {
            var reuser = $"tcpKeepAlive.idle {Units.Seconds(keepAlive.Idle)}";
            return keepAlive.Idle < nat
                ? new CheckResult(id, title, Verdict.Pass, $"{reuser} < {closer}")
                : new CheckResult(id, title, Verdict.Fail, $"{reuser} vs {closer}",
                    $"The first keepalive probe comes after the NAT has already forgotten the connection: it is dropped silently. "
                    + $"Set clusters.{clusterName}.tcpKeepAlive.idle below {Units.Seconds(nat)}.");
        }

        var pool = $"pool.idleTimeout {Units.Seconds(cluster.Pool.IdleTimeout)} (no TCP keepalive)";
        return cluster.Pool.IdleTimeout < nat
            ? new CheckResult(id, title, Verdict.Pass, $"{pool} < {closer}")
            : new CheckResult(id, title, Verdict.Fail, $"{pool} vs {closer}",
                $"Pooled connections outlive the NAT's memory of them and die silently (a hang, then a timeout). Enable "
                + $"clusters.{clusterName}.tcpKeepAlive with idle below {Units.Seconds(nat)}, or lower pool.idleTimeout below it.");
    }
}
