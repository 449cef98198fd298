using Tether.Doctor.Http;

namespace Tether.Doctor.Endpoint;

/// <summary>One request's phases. Cold: a new connection (DNS, TCP, TLS, then the request). Warm: a reused one.</summary>
public sealed record TimingSample(TimeSpan Dns, TimeSpan Connect, TimeSpan? TlsHandshake, TimeSpan TimeToFirstByte, TimeSpan Total)
{
    public TlsDetails? Tls { get; init; }
}

public sealed record TimingResult(IReadOnlyList<TimingSample> Cold, IReadOnlyList<TimingSample> Warm, ProbeResponse FirstResponse)
{
    public static TimeSpan Median(IEnumerable<TimeSpan> values)
    {
        var sorted = values.Order().ToList();
        if (sorted.Count == 0)
        {
            return TimeSpan.Zero;
        }

        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}

/// <summary>
/// The curl -w time_connect/time_appconnect view, done right: several cold requests (each on a new connection,
/// resolving DNS each time) and several warm ones on one kept connection, compared by their medians.
/// </summary>
public sealed class TimingProbe(TimeProvider timeProvider)
{
    public async Task<TimingResult> RunAsync(ProbeTarget target, ConnectOptions options, int tries, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(options);
        var cold = new List<TimingSample>(tries);
        var warm = new List<TimingSample>(tries);
        ProbeResponse? first = null;
        ProbeConnection? kept = null;
        try
        {
            for (var i = 0; i < tries; i++)
            {
                var connection = await ProbeConnection.OpenAsync(target, options with { Addresses = null }, timeProvider, cancellationToken)
                    .ConfigureAwait(false);
                var response = await connection.SendAsync("GET", cancellationToken).ConfigureAwait(false);
                first ??= response;
                var t = connection.Timings;
                cold.Add(new TimingSample(t.Dns, t.TcpConnect, t.TlsHandshake, response.TimeToFirstByte,
                    t.Dns + t.TcpConnect + (t.TlsHandshake ?? TimeSpan.Zero) + response.Total) { Tls = connection.Tls });
                if (kept is null && !response.ServerWillClose)
                {
                    kept = connection;
                }
                else
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                }
            }

            for (var i = 0; kept is not null && i < tries; i++)
            {
                var response = await kept.SendAsync("GET", cancellationToken).ConfigureAwait(false);
                warm.Add(new TimingSample(TimeSpan.Zero, TimeSpan.Zero, null, response.TimeToFirstByte, response.Total));
                if (response.ServerWillClose)
                {
                    break;
                }
            }
        }
        finally
        {
            if (kept is not null)
            {
                await kept.DisposeAsync().ConfigureAwait(false);
            }
        }

        return new TimingResult(cold, warm, first!);
    }
}
