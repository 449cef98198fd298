using System.Net.Sockets;
using System.Security.Authentication;
using Tether.Doctor.Http;
using Tether.Doctor.Reporting;

namespace Tether.Doctor.Endpoint;

/// <summary>`tether doctor URL`: runs the endpoint probes in order (the long idle measurement last) and judges them.</summary>
public sealed class EndpointDoctor(TimeProvider timeProvider)
{
    public async Task<ReportSection[]> RunAsync(EndpointOptions options, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var connect = new ConnectOptions { Insecure = options.Insecure };
        var target = options.Target;
        progress?.Report("HTTP/2 and multiplexing");
        var http2 = await ProbeHttp2Async(options, connect, cancellationToken).ConfigureAwait(false);
        try
        {
            progress?.Report($"{options.Tries} cold and {options.Tries} warm requests");
            var timing = await new TimingProbe(timeProvider).RunAsync(target, connect, options.Tries, cancellationToken).ConfigureAwait(false);

            progress?.Report($"{options.SequentialRequests} requests on one connection");
            var keepAlive = await new KeepAliveProbe(timeProvider).RunAsync(target, connect, options.SequentialRequests, cancellationToken)
                .ConfigureAwait(false);

            IdleTimeoutEstimate idle;
            if (keepAlive.KeptAlive)
            {
                progress?.Report($"idle timeout (up to {Units.Seconds(options.Budget)})");
                var roundTrip = TimingResult.Median(timing.Warm.Select(w => w.TimeToFirstByte));
                idle = await new IdleTimeoutProbe(timeProvider).MeasureAsync(target, connect, options.Budget, roundTrip, cancellationToken)
                    .ConfigureAwait(false);
            }
            else
            {
                idle = new IdleTimeoutEstimate { Kind = IdleTimeoutKind.NotKeptAlive };
            }

            return EndpointJudge.Judge(options, new EndpointFindings(timing, keepAlive, http2, idle));
        }
        catch (Exception exception) when (exception is SocketException or IOException or AuthenticationException or InvalidDataException)
        {
            var check = new CheckResult("endpoint.connect", "Connect and request", Verdict.Fail, $"{target.Uri}: {exception.Message}",
                exception is AuthenticationException
                    ? "The TLS handshake failed; for a self-signed certificate rerun with --insecure."
                    : "Check the URL, that the server is listening, and that nothing in between drops the connection.");
            return [new ReportSection($"Endpoint {target.Uri}", [check]), EndpointJudge.Protocols(options, null, http2)];
        }
    }

    private async Task<Http2Result> ProbeHttp2Async(EndpointOptions options, ConnectOptions connect, CancellationToken cancellationToken)
    {
        try
        {
            return await new Http2Probe(timeProvider).RunAsync(options.Target, connect, options.ConcurrentRequests, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is SocketException or IOException or AuthenticationException or InvalidDataException)
        {
            return new Http2Result(false, $"could not probe: {exception.Message}", null, 0, 0, null);
        }
    }
}
