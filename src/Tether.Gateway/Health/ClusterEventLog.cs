using Microsoft.Extensions.Logging;
using Tether.Upstream.Destinations;

namespace Tether.Gateway.Health;

/// <summary>Log lines for what clusters report about their destinations: ejections, probe verdicts, DNS changes, learned idle timeouts.</summary>
internal sealed partial class ClusterEventLog(ILogger<ClusterEventLog> logger) : IClusterObserver
{
    public void Ejected(string cluster, string destination, int failures, TimeSpan duration, int ejections) =>
        Log.Ejected(logger, cluster, destination, failures, duration.TotalSeconds, ejections);

    public void ProbeStateChanged(string cluster, string destination, bool healthy, string detail)
    {
        if (healthy)
        {
            Log.ProbeHealthy(logger, cluster, destination, detail);
        }
        else
        {
            Log.ProbeUnhealthy(logger, cluster, destination, detail);
        }
    }

    public void DestinationsChanged(string cluster, string host, int added, int drained, int total, bool firstAnswer)
    {
        if (firstAnswer)
        {
            Log.FirstResolved(logger, cluster, host, total);
        }
        else
        {
            Log.DestinationsChanged(logger, cluster, host, added, drained, total);
        }
    }

    /// <summary>clusters.&lt;name&gt;.tls.verify is false: said once when the cluster is built (start, reload).</summary>
    public void TlsVerificationOff(string cluster) => Log.TlsVerificationOff(logger, cluster);

    public void ResolveFailed(string cluster, string host, string error) =>
        Log.ResolveFailed(logger, cluster, host, error);

    public void IdleTimeoutLearned(string cluster, string destination, TimeSpan learned, TimeSpan? smallestClose) =>
        Log.IdleTimeoutLearned(logger, cluster, destination, Math.Round(smallestClose?.TotalSeconds ?? 0, 3), Math.Round(learned.TotalSeconds, 3));

    private static partial class Log
    {
        [LoggerMessage(EventId = 2000, EventName = "DestinationEjected", Level = LogLevel.Warning,
            Message = "cluster={Cluster} destination={Destination}: ejected for {Seconds}s after {Failures} consecutive failures (ejection #{Ejections})")]
        public static partial void Ejected(ILogger logger, string cluster, string destination, int failures, double seconds, int ejections);

        [LoggerMessage(EventId = 2001, EventName = "DestinationUnhealthy", Level = LogLevel.Warning,
            Message = "cluster={Cluster} destination={Destination}: marked unhealthy by active probes ({Detail})")]
        public static partial void ProbeUnhealthy(ILogger logger, string cluster, string destination, string detail);

        [LoggerMessage(EventId = 2002, EventName = "DestinationHealthy", Level = LogLevel.Information,
            Message = "cluster={Cluster} destination={Destination}: healthy again by active probes ({Detail})")]
        public static partial void ProbeHealthy(ILogger logger, string cluster, string destination, string detail);

        [LoggerMessage(EventId = 2010, EventName = "DestinationsResolved", Level = LogLevel.Information,
            Message = "cluster={Cluster} host={Host}: {Added} address(es) added, {Drained} draining; {Total} in use")]
        public static partial void DestinationsChanged(ILogger logger, string cluster, string host, int added, int drained, int total);

        [LoggerMessage(EventId = 2014, EventName = "DestinationsFirstResolved", Level = LogLevel.Information,
            Message = "cluster={Cluster} host={Host}: resolved to {Total} address(es)")]
        public static partial void FirstResolved(ILogger logger, string cluster, string host, int total);

        [LoggerMessage(EventId = 2012, EventName = "IdleTimeoutLearned", Level = LogLevel.Information,
            Message = "cluster={Cluster} destination={Destination}: closes idle connections without announcing it (oldest first, the earliest found at {Observed}s idle); Tether now gives them up after {Learned}s (pool.learnIdleTimeout)")]
        public static partial void IdleTimeoutLearned(ILogger logger, string cluster, string destination, double observed, double learned);

        [LoggerMessage(EventId = 2011, EventName = "ResolveFailed", Level = LogLevel.Warning,
            Message = "cluster={Cluster} host={Host}: could not resolve ({Error}); keeping the previous addresses")]
        public static partial void ResolveFailed(ILogger logger, string cluster, string host, string error);

        [LoggerMessage(EventId = 2013, EventName = "TlsVerificationOff", Level = LogLevel.Warning,
            Message = "cluster={Cluster}: tls.verify is false, so the certificates of its https:// destinations are not checked; anyone on the path can impersonate them")]
        public static partial void TlsVerificationOff(ILogger logger, string cluster);
    }
}
