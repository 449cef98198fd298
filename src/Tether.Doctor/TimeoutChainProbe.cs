using Tether.Configuration;
using Tether.Doctor.Chain;
using Tether.Doctor.Endpoint;
using Tether.Doctor.Http;
using Tether.Doctor.Reporting;

namespace Tether.Doctor;

/// <summary>
/// `tether check --config FILE --probe`: measures every destination's idle timeout (in parallel) and checks
/// each hop of the timeout chain: front load balancer → Tether, Tether's pool → each destination, and
/// TCP keepalive (or pool expiry) → a NAT/firewall on the way.
/// </summary>
public static class TimeoutChainProbe
{
    /// <summary>Longest a destination probe may run; a pool expiry beyond this is checked against "longer than".</summary>
    private static readonly TimeSpan MaxBudget = TimeSpan.FromSeconds(120);

    /// <returns>0 when every hop passes, 1 when any fails.</returns>
    public static async Task<int> RunAsync(TetherConfig config, bool json, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        var report = await ReportOutput.WithProgressAsync(json, progress =>
        {
            progress?.Report("probing destinations' idle timeouts");
            return BuildReportAsync(config, (destination, budget, ct) => MeasureAsync(destination, budget, TimeProvider.System, ct), cancellationToken);
        }).ConfigureAwait(false);
        ReportOutput.Write(report, json, output);
        return report.ExitCode;
    }

    /// <param name="measure">Measures one destination within a budget (a real probe, or a fixed answer in tests).</param>
    public static async Task<DoctorReport> BuildReportAsync(
        TetherConfig config, Func<DestinationConfig, TimeSpan, CancellationToken, Task<DestinationIdle>> measure, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(measure);
        var probes = new List<(string Cluster, ClusterConfig Config, DestinationConfig Destination, Task<DestinationIdle> Idle)>();
        foreach (var (name, cluster) in config.Clusters.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            // The probe only has to show whether the destination outlasts the pool: a little past its expiry is enough.
            var budget = cluster.Pool.IdleTimeout + TimeSpan.FromSeconds(2);
            budget = budget < MaxBudget ? budget : MaxBudget;
            foreach (var destination in cluster.Destinations)
            {
                probes.Add((name, cluster, destination, measure(destination, budget, cancellationToken)));
            }
        }

        await Task.WhenAll(probes.Select(p => p.Idle)).ConfigureAwait(false);
        var checks = new List<CheckResult> { TimeoutChainRules.Front(config.Downstream, config.Chain) };
        foreach (var probe in probes)
        {
            checks.Add(TimeoutChainRules.Upstream(probe.Cluster, probe.Config, probe.Destination, await probe.Idle.ConfigureAwait(false)));
        }

        foreach (var (name, cluster) in config.Clusters.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            checks.Add(TimeoutChainRules.Nat(name, cluster, config.Chain));
        }

        return new DoctorReport("timeout chain (reuser must give up before closer)",
            [new ReportSection("Timeout chain: each hop's reuser vs closer", checks)]);
    }

    /// <summary>The real measurement: one request for the Keep-Alive header, then the idle-timeout probe.</summary>
    public static async Task<DestinationIdle> MeasureAsync(DestinationConfig destination, TimeSpan budget, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var target = new ProbeTarget(destination.Host, destination.Port, destination.UseTls, "/");

        // Only the backend's idle behaviour is measured here; its certificate is the gateway's to verify (tls.caFile).
        var options = new ConnectOptions { Insecure = destination.UseTls };
        try
        {
            TimeSpan? advertised;
            await using (var connection = await ProbeConnection.OpenAsync(target, options, timeProvider, cancellationToken).ConfigureAwait(false))
            {
                advertised = (await connection.SendAsync("GET", cancellationToken).ConfigureAwait(false)).AdvertisedIdleTimeout;
            }

            var measured = await new IdleTimeoutProbe(timeProvider).MeasureAsync(target, options, budget, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            return new DestinationIdle(measured, advertised);
        }
        catch (Exception exception) when (exception is IOException or System.Net.Sockets.SocketException or InvalidDataException)
        {
            return new DestinationIdle(new IdleTimeoutEstimate { Kind = IdleTimeoutKind.Failed }, null);
        }
    }
}
