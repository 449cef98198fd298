using System.Net;
using Tether.Upstream;
using Tether.Upstream.Destinations;
using Tether.Upstream.Http1;
using Tether.Upstream.Http2;

namespace Tether.Client;

/// <summary>
/// The HTTP/2 side of <see cref="TetherHttpHandler"/>: a request for an address whose pool speaks h2
/// (<see cref="TetherClientOptions.Protocol"/>) goes over Tether.Upstream's <see cref="Http2Pool"/> (SocketsHttpHandler's
/// HTTP/2 client on connections Tether's connector opens: socket options, TLS verification, ALPN). The address is still
/// chosen by least-connections, and counts the stream in flight until its response body ends.
/// </summary>
public sealed partial class TetherHttpHandler
{
    // What a request's Version and VersionPolicy require of the protocol.
    internal enum VersionNeed
    {
        // Whatever TetherClientOptions.Protocol gives.
        Configured,

        // HTTP/1.x with RequestVersionExact.
        Http1,

        // HTTP/2 with RequestVersionExact or RequestVersionOrHigher (gRPC).
        Http2,
    }

    /// <exception cref="HttpRequestException">VersionNegotiationError: the request requires a version this handler
    /// cannot speak to <paramref name="uri"/> with these options.</exception>
    private VersionNeed NeedOf(HttpRequestMessage request, Uri uri)
    {
        var version = request.Version;
        var policy = request.VersionPolicy;
        if (version.Major >= 3 && policy != HttpVersionPolicy.RequestVersionOrLower)
        {
            throw new HttpRequestException(HttpRequestError.VersionNegotiationError,
                $"HTTP/{version} was required, but TetherHttpHandler speaks HTTP/1.1 and HTTP/2; use VersionPolicy RequestVersionOrLower");
        }

        if (version.Major == 2 && policy != HttpVersionPolicy.RequestVersionOrLower)
        {
            var protocol = _options.Protocol;
            if (protocol == TetherProtocol.Http1 || (protocol == TetherProtocol.Auto && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw new HttpRequestException(HttpRequestError.VersionNegotiationError, protocol == TetherProtocol.Http1
                    ? $"HTTP/{version} was required, but TetherClientOptions.Protocol is Http1; set Protocol = Http2 (or Auto for https://), or use VersionPolicy RequestVersionOrLower"
                    : $"HTTP/{version} was required of an http:// URI, and Protocol Auto negotiates h2 only by TLS ALPN; set Protocol = Http2 for h2c (prior knowledge)");
            }

            return VersionNeed.Http2;
        }

        return version.Major < 2 && policy == HttpVersionPolicy.RequestVersionExact ? VersionNeed.Http1 : VersionNeed.Configured;
    }

    // One attempt over the address's HTTP/2 connections. As AttemptAsync: a response is returned with the destination
    // still counted in flight (the response content's end ends that); a connect failure is returned as an error, for
    // the caller to try the next address; other failures throw as SocketsHttpHandler's (HttpRequestException, with
    // HttpRequestError set) or as cancellation.
    private async ValueTask<Attempt> Http2AttemptAsync(
        HttpRequestMessage request, HostPool host, DestinationState destination, Http2Pool pool, CancellationToken cancellationToken)
    {
        // Not disposed: its content is the caller's, disposed with the caller's request.
        var message = new HttpRequestMessage(request.Method, pool.RequestUri(request.RequestUri!.PathAndQuery))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = request.Content,
        };
        CopyHeaders(request, message, host.DefaultHostHeader);

        // ResponseTimeout bounds the wait for the response head (the body's reads are the caller's to bound).
        CancellationTokenSource? timeout = null;
        var token = cancellationToken;
        if (_options.ResponseTimeout != Timeout.InfiniteTimeSpan)
        {
            timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.ResponseTimeout);
            token = timeout.Token;
        }

        pool.OnStreamStarted();
        var opened = pool.Created;
        HttpResponseMessage response;
        try
        {
            response = await pool.Invoker.SendAsync(message, token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            pool.OnStreamEnded();
            var timedOut = timeout is { IsCancellationRequested: true } && !cancellationToken.IsCancellationRequested;
            timeout?.Dispose();
            if (timedOut)
            {
                throw new TaskCanceledException($"{destination.Name}: no response head within ResponseTimeout {_options.ResponseTimeout.TotalMilliseconds:0}ms",
                    new TimeoutException("ResponseTimeout elapsed", ex));
            }

            if (!cancellationToken.IsCancellationRequested && FindUpstreamError(ex) is { Phase: UpstreamPhase.Connect or UpstreamPhase.Tls } upstream)
            {
                return new Attempt(null, upstream, false, false);
            }

            throw;
        }

        timeout?.CancelAfter(Timeout.InfiniteTimeSpan);
        var reused = pool.Created == opened;
        ClientMetrics.OnStream(reused, host.Key.Host, host.Key.Port);
        if ((int)response.StatusCode >= 500)
        {
            host.Cluster.ReportFailure(destination);
        }
        else
        {
            host.Cluster.ReportSuccess(destination);
        }

        response.RequestMessage = request;
        response.Content = new Http2ResponseContent(response.Content, new StreamEnd(pool, destination, timeout));
        return new Attempt(response, null, reused, request.Content is not null);
    }

    private static UpstreamException? FindUpstreamError(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is UpstreamException upstream)
            {
                return upstream;
            }
        }

        return null;
    }

    // The caller's headers, less those HTTP/2 forbids (connection-specific, RFC 9113 §8.2.2; "TE: trailers" is kept,
    // as gRPC needs it); Host becomes :authority.
    private static void CopyHeaders(HttpRequestMessage request, HttpRequestMessage message, string defaultHost)
    {
        var headers = message.Headers;
        foreach (var header in request.Headers.NonValidated)
        {
            var name = header.Key;
            if (name.Length == 2 && string.Equals(name, "TE", StringComparison.OrdinalIgnoreCase))
            {
                foreach (var value in header.Value)
                {
                    if (value.Contains("trailers", StringComparison.OrdinalIgnoreCase))
                    {
                        headers.TryAddWithoutValidation("TE", "trailers");
                        break;
                    }
                }

                continue;
            }

            if (HttpTokens.IsHopByHop(name) || string.Equals(name, "Host", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            headers.TryAddWithoutValidation(name, header.Value);
        }

        headers.Host = request.Headers.Host ?? defaultHost;
    }

    // Ends one HTTP/2 exchange's bookkeeping once: the stream's in-flight counts and the head's timeout source.
    internal sealed class StreamEnd(Http2Pool pool, DestinationState destination, CancellationTokenSource? timeout)
    {
        private int _ended;

        public void End()
        {
            if (Interlocked.Exchange(ref _ended, 1) == 0)
            {
                pool.OnStreamEnded();
                destination.OnRequestEnded();
                timeout?.Dispose();
            }
        }
    }
}
