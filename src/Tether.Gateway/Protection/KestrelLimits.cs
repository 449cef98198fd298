using Microsoft.AspNetCore.Server.Kestrel.Core;
using Tether.Configuration;

namespace Tether.Gateway.Protection;

/// <summary>The downstream protection keys that Kestrel enforces itself, applied to its options.</summary>
internal static class KestrelLimits
{
    /// <summary>Kestrel's timer check interval (its heartbeat).</summary>
    internal static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(1);

    public static void Apply(KestrelServerOptions kestrel, DownstreamConfig d)
    {
        var limits = kestrel.Limits;
        limits.RequestHeadersTimeout = HeartbeatCompensated(d.RequestHeadersTimeout);
        limits.MinRequestBodyDataRate = Rate(d.MinRequestBodyRate);
        limits.MinResponseDataRate = Rate(d.MinResponseRate);
        limits.MaxRequestLineSize = d.MaxRequestLineSize;
        limits.MaxRequestHeadersTotalSize = d.MaxRequestHeadersSize;
        limits.MaxRequestHeaderCount = d.MaxRequestHeaderCount;

        // Tether counts and caps connections itself (ConnectionLimitMiddleware), so the closures are counted by reason.
        limits.MaxConcurrentConnections = null;
        limits.MaxConcurrentUpgradedConnections = null;

        limits.Http2.MaxStreamsPerConnection = d.Http2.MaxStreamsPerConnection;
        limits.Http2.InitialStreamWindowSize = d.Http2.InitialStreamWindowSize;
        limits.Http2.InitialConnectionWindowSize = d.Http2.InitialConnectionWindowSize;

        kestrel.ConfigureHttpsDefaults(https => https.HandshakeTimeout = d.TlsHandshakeTimeout);
    }

    // Kestrel checks its timers on a one-second heartbeat and adds one interval of slack, so a timeout T
    // fires between T+1s and T+2s after it is armed. Asking Kestrel for T-1s puts the close between T and
    // T+1s: never before the configured value (nginx's client_header_timeout meaning), at most 1s after it.
    internal static TimeSpan HeartbeatCompensated(TimeSpan timeout) =>
        timeout > Heartbeat ? timeout - Heartbeat : TimeSpan.FromMilliseconds(1);

    private static MinDataRate? Rate(DataRateConfig rate) => rate.IsOff ? null : new MinDataRate(rate.BytesPerSecond, rate.Grace);
}
