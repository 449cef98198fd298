using Microsoft.Extensions.Logging;
using Tether.Upstream.Destinations;

namespace Tether.Client;

/// <summary>What the host pools report (Tether.Upstream logs nothing itself), as log lines.</summary>
internal sealed partial class ClientClusterObserver(ILogger logger) : IClusterObserver
{
    public void Ejected(string cluster, string destination, int failures, TimeSpan duration, int ejections) =>
        Log.Ejected(logger, cluster, destination, failures, duration.TotalSeconds);

    public void ProbeStateChanged(string cluster, string destination, bool healthy, string detail)
    {
        // No active probes in the client.
    }

    public void DestinationsChanged(string cluster, string host, int added, int drained, int total, bool firstAnswer)
    {
        if (!firstAnswer)
        {
            Log.AddressesChanged(logger, cluster, added, drained, total);
        }
    }

    public void ResolveFailed(string cluster, string host, string error) => Log.ResolveFailed(logger, cluster, error);

    public void IdleTimeoutLearned(string cluster, string destination, TimeSpan learned, TimeSpan? smallestClose) =>
        Log.IdleTimeoutLearned(logger, destination, cluster, learned.TotalMilliseconds, smallestClose?.TotalMilliseconds);

    private static partial class Log
    {
        [LoggerMessage(EventId = 7001, EventName = "AddressesChanged", Level = LogLevel.Information,
            Message = "host={Host}: DNS changed, {Added} address(es) added, {Drained} drained, {Total} in use")]
        public static partial void AddressesChanged(ILogger logger, string host, int added, int drained, int total);

        [LoggerMessage(EventId = 7002, EventName = "ResolveFailed", Level = LogLevel.Warning,
            Message = "host={Host}: resolution failed ({Error}); the previous addresses stay in use")]
        public static partial void ResolveFailed(ILogger logger, string host, string error);

        [LoggerMessage(EventId = 7003, EventName = "IdleTimeoutLearned", Level = LogLevel.Information,
            Message = "address={Address} of host={Host} closes idle connections unannounced (smallest idle age found closed {SmallestMs} ms): idle connections are now given up after {LearnedMs} ms")]
        public static partial void IdleTimeoutLearned(ILogger logger, string address, string host, double learnedMs, double? smallestMs);

        [LoggerMessage(EventId = 7004, EventName = "AddressEjected", Level = LogLevel.Warning,
            Message = "host={Host}: address {Address} failed {Failures} times in a row; not used for {Seconds} s")]
        public static partial void Ejected(ILogger logger, string host, string address, int failures, double seconds);
    }
}
