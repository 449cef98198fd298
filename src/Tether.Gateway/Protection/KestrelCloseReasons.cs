using System.Diagnostics.Metrics;

namespace Tether.Gateway.Protection;

/// <summary>
/// Counts the connections Kestrel itself closed for a slow client. Kestrel enforces requestHeadersTimeout and
/// the data rates but has no callback; it does tag its <c>kestrel.connection.duration</c> measurement with the
/// end reason (<c>error.type</c>, .NET 9+), so we listen to that instrument — only the one created by this
/// host's meter factory, so two gateways in one process (tests) keep separate counts.
/// </summary>
internal sealed class KestrelCloseReasons : IDisposable
{
    private const string KestrelMeter = "Microsoft.AspNetCore.Server.Kestrel";
    private const string DurationInstrument = "kestrel.connection.duration";

    private readonly MeterListener _listener = new();
    private readonly ConnectionCloseCounters _closed;

    public KestrelCloseReasons(IMeterFactory meterFactory, ConnectionCloseCounters closed)
    {
        _closed = closed;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == KestrelMeter && instrument.Name == DurationInstrument && ReferenceEquals(instrument.Meter.Scope, meterFactory))
            {
                listener.EnableMeasurementEvents(instrument, this);
            }
        };
        _listener.SetMeasurementEventCallback<double>(static (_, _, tags, state) => ((KestrelCloseReasons)state!).OnConnectionEnded(tags));
        _listener.Start();
    }

    /// <summary>Maps Kestrel's error.type value to our reason; null for reasons that are not a protection.</summary>
    public static ProtectionCloseReason? Map(string? errorType) => errorType switch
    {
        "request_headers_timeout" => ProtectionCloseReason.SlowHeaders,
        "min_request_body_data_rate" => ProtectionCloseReason.SlowBody,
        "min_response_data_rate" => ProtectionCloseReason.SlowRead,
        "tls_handshake_failed" => ProtectionCloseReason.TlsHandshake,
        _ => null,
    };

    public void Dispose() => _listener.Dispose();

    private void OnConnectionEnded(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == "error.type" && Map(tag.Value as string) is { } reason)
            {
                _closed.Increment(reason);
                return;
            }
        }
    }
}
