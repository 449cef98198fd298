using Tether.Doctor.Http;

namespace Tether.Doctor.Endpoint;

/// <summary>What sequential requests on one socket showed.</summary>
/// <param name="FirstResponse">Its status line version and Connection / Keep-Alive headers.</param>
/// <param name="Completed">Requests answered on the one connection.</param>
/// <param name="ClosedAfter">The request count after which the server ended the connection, or null if it never did.</param>
/// <param name="CloseReason">How it ended it ("Connection: close on response 5", "EOF when request 6 was sent").</param>
public sealed record KeepAliveResult(ProbeResponse FirstResponse, int Completed, int? ClosedAfter, string? CloseReason, int Attempted)
{
    public bool KeptAlive => ClosedAfter is null or > 1;
}

/// <summary>Sends N requests one after another on one socket and notes when (and how) the server ends it.</summary>
public sealed class KeepAliveProbe(TimeProvider timeProvider)
{
    public async Task<KeepAliveResult> RunAsync(ProbeTarget target, ConnectOptions options, int requests, CancellationToken cancellationToken)
    {
        await using var connection = await ProbeConnection.OpenAsync(target, options, timeProvider, cancellationToken).ConfigureAwait(false);
        ProbeResponse? first = null;
        for (var i = 1; i <= requests; i++)
        {
            ProbeResponse response;
            try
            {
                response = await connection.SendAsync("GET", cancellationToken).ConfigureAwait(false);
            }
            catch (ConnectionClosedException) when (first is not null)
            {
                return new KeepAliveResult(first, i - 1, i - 1, $"the connection was closed when request {i} was sent, without a Connection: close", requests);
            }

            first ??= response;
            if (response.ServerWillClose)
            {
                var how = response.CloseDelimited
                    ? $"response {i} had no length and ended with the connection"
                    : response.HasConnectionToken("close")
                        ? $"Connection: close on response {i}"
                        : $"{response.Version} response {i} without Connection: keep-alive";
                return new KeepAliveResult(first, i, i, how, requests);
            }
        }

        return new KeepAliveResult(first!, requests, null, null, requests);
    }
}
