using System.Net.Http;
using System.Net.Sockets;
using Tether.Upstream;

namespace Tether.Client;

/// <summary>
/// The one place an <see cref="UpstreamException"/> becomes what an HttpClient caller expects: a timeout is a
/// <see cref="TaskCanceledException"/> (with a <see cref="TimeoutException"/> inside, as SocketsHttpHandler's
/// ConnectTimeout); anything else an <see cref="HttpRequestException"/> whose <see cref="HttpRequestException.HttpRequestError"/>
/// says what failed. Messages name the address and the phase; the Upstream exception is the inner one.
/// </summary>
internal static class ClientErrors
{
    public static Exception RequestFailed(UpstreamException error, string address)
    {
        if (error.Kind == UpstreamErrorKind.Timeout)
        {
            var what = error.Phase is UpstreamPhase.Connect or UpstreamPhase.Tls ? "ConnectTimeout" : "ResponseTimeout";
            return new TaskCanceledException($"{address}: {error.Message} ({what})", new TimeoutException(error.Message, error));
        }

        var kind = Classify(error);
        return new HttpRequestException(kind, $"{address}: {error.Phase} failed: {error.Message}", error);
    }

    /// <summary>A failure while the caller reads the response body (HttpClient wraps IOExceptions from content reads).</summary>
    public static Exception BodyFailed(UpstreamException error) =>
        error.Kind == UpstreamErrorKind.Timeout
            ? new TaskCanceledException(error.Message + " (ResponseTimeout)", new TimeoutException(error.Message, error))
            : new HttpIOException(Classify(error), $"reading the response body failed: {error.Message}", error);

    internal static HttpRequestError Classify(UpstreamException error) => error switch
    {
        { Phase: UpstreamPhase.Connect, InnerException: SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData } } =>
            HttpRequestError.NameResolutionError,
        { Phase: UpstreamPhase.Tls } => HttpRequestError.SecureConnectionError,
        { Kind: UpstreamErrorKind.InvalidResponse } => HttpRequestError.InvalidResponse,
        { Kind: UpstreamErrorKind.Closed, Phase: UpstreamPhase.ReadHeaders or UpstreamPhase.ReadBody } => HttpRequestError.ResponseEnded,
        _ => HttpRequestError.ConnectionError,
    };
}
