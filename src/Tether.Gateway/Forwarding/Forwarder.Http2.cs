using System.Diagnostics;
using System.Net;
using System.Net.Http;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Tether.Gateway.Observability;
using Microsoft.Net.Http.Headers;
using Tether.Upstream;
using Tether.Upstream.Destinations;
using Tether.Upstream.Http1;
using Tether.Upstream.Http2;

namespace Tether.Gateway.Forwarding;

/// <summary>
/// One attempt over an HTTP/2 destination (<see cref="Http2Pool"/>): the request rebuilt as an
/// <see cref="HttpRequestMessage"/> (the same headers dropped and added as for HTTP/1.1, plus "TE: trailers", the one
/// TE value HTTP/2 allows), its body streamed as the client sends it (flushed per read, so gRPC streams flow both
/// ways at once), the response head, body and trailers copied back as they arrive. A client that goes away
/// cancels the stream (RST_STREAM CANCEL to the backend).
/// </summary>
internal sealed partial class Forwarder
{
    // Response body reads start in the client pipe's own pooled blocks (GetMemory() with no hint: the rest of the
    // current block, or a new 4 KiB one). A hint above the block size makes the pipe rent from ArrayPool.Shared
    // instead, and a fresh segment on every read that leaves less than the hint: at gRPC's ~160 calls in flight that
    // outgrew the pool and cost a 16 KiB array and a segment per call (a third of all bytes allocated, measured with
    // dotnet-trace gc-verbose). A body whose read fills the block is a large one: it goes on in reads of this size.
    private const int Http2LargeReadBytes = 16 * 1024;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Attempt> Http2AttemptAsync(HttpContext context, ClusterState cluster, DestinationState destination, Http2Pool pool, Exchange exchange, Activity? span)
    {
        var request = context.Request;
        if (exchange.Target[0] != '/')
        {
            // "OPTIONS *": the HTTP/2 client cannot put "*" in :path. Nothing was sent; no other destination does better.
            return new Attempt(new UpstreamException(UpstreamPhase.SendRequest, UpstreamErrorKind.InvalidResponse, "an asterisk-form target cannot be sent to an HTTP/2 backend"), Reused: false);
        }

        var responseTimeout = cluster.ResponseTimeout;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var headersReceived = false;
        var body = exchange.BodyMode == RequestBodyMode.None
            ? null
            : new RequestBodyContent(context, exchange.ContentLength, () =>
            {
                // responseTimeout runs from the end of the request to the response head.
                if (!Volatile.Read(ref headersReceived))
                {
                    timeout.CancelAfter(responseTimeout);
                }
            });
        using var message = new HttpRequestMessage(HttpMethod.Parse(request.Method), pool.RequestUri(exchange.Target))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = body,
        };
        CopyRequestHeaders(context, message, destination.HostHeader, exchange.Route, span);
        if (body is null)
        {
            timeout.CancelAfter(responseTimeout);
        }

        pool.OnStreamStarted();
        HttpResponseMessage? response = null;
        CompressedBody? compressed = null;
        var phase = UpstreamPhase.ReadHeaders;
        var opened = pool.Created;
        try
        {
            response = await pool.Invoker.SendAsync(message, timeout.Token).ConfigureAwait(false);
            telemetry.OnConnection(context, reused: pool.Created == opened);
            RequestTracing.OnConnection(span, reused: pool.Created == opened);
            Volatile.Write(ref headersReceived, true);
            timeout.CancelAfter(Timeout.InfiniteTimeSpan);

            // 4. The response head.
            var status = (int)response.StatusCode;
            if (status >= 500)
            {
                cluster.ReportFailure(destination);
            }
            else
            {
                cluster.ReportSuccess(destination);
            }

            var clientResponse = context.Response;
            CopyResponseHead(response, clientResponse);
            if (exchange.Route.Transforms is { ChangesResponse: true } transforms)
            {
                transforms.ApplyResponse(context, clientResponse);
            }

            var forwardsTrailers = ResponseTrailers.Declare(context, ForwarderErrors.IsGrpc(request), response);
            compressed = exchange.Compression?.Begin(context);

            // 5. The body, each read bounded by responseTimeout, each piece flushed to the client as it comes.
            phase = UpstreamPhase.ReadBody;
            var stream = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            var writer = compressed?.Writer ?? clientResponse.BodyWriter;
            var sizeHint = 0;
            while (true)
            {
                var memory = writer.GetMemory(sizeHint);
                int n;
                var read = stream.ReadAsync(memory, timeout.Token);
                if (read.IsCompleted)
                {
                    // Already buffered by the handler (a unary reply and its trailers usually are): no wait to bound.
                    n = read.GetAwaiter().GetResult();
                }
                else
                {
                    // Armed after the read started, on the token it already watches: a timer only for reads that wait.
                    timeout.CancelAfter(responseTimeout);
                    n = await read.ConfigureAwait(false);
                    timeout.CancelAfter(Timeout.InfiniteTimeSpan);
                }

                if (n == 0)
                {
                    break;
                }

                if (n == memory.Length)
                {
                    sizeHint = Http2LargeReadBytes;
                }

                writer.Advance(n);
                var flush = await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
                if (flush.IsCanceled || flush.IsCompleted)
                {
                    errors.ClientAborted(context, cluster, destination, new UpstreamException(UpstreamPhase.ReadBody, UpstreamErrorKind.ClientAborted, "client went away"));
                    return default;
                }
            }

            if (compressed is not null)
            {
                await compressed.CompleteAsync().ConfigureAwait(false);
            }

            if (forwardsTrailers)
            {
                ResponseTrailers.Append(clientResponse, response.TrailingHeaders);
            }

            return default;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            if (context.RequestAborted.IsCancellationRequested)
            {
                errors.ClientAborted(context, cluster, destination, new UpstreamException(phase, UpstreamErrorKind.ClientAborted, "client went away", ex));
                return default;
            }

            if (FindInner<BadHttpRequestException>(ex) is { } bad)
            {
                await errors.ClientBadRequestAsync(context, cluster, destination, bad).ConfigureAwait(false);
                return default;
            }

            if (ex is IOException && FindInner<Microsoft.AspNetCore.Connections.ConnectionResetException>(ex) is not null)
            {
                errors.ClientAborted(context, cluster, destination, new UpstreamException(phase, UpstreamErrorKind.ClientAborted, "client went away", ex));
                return default;
            }

            var error = Http2Error(ex, phase, timeout.IsCancellationRequested, responseTimeout);
            return new Attempt(error, Reused: false, BodyConsumed: body is { AnyBodyConsumed: true });
        }
        finally
        {
            compressed?.Abandon();
            response?.Dispose();
            pool.OnStreamEnded();
        }
    }

    private static T? FindInner<T>(Exception ex)
        where T : Exception
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is T found)
            {
                return found;
            }
        }

        return null;
    }

    // What an HTTP/2 exchange's failure was, in the same phases and kinds as HTTP/1.1's.
    private static UpstreamException Http2Error(Exception ex, UpstreamPhase phase, bool timedOut, TimeSpan responseTimeout)
    {
        if (FindInner<UpstreamException>(ex) is { } upstream)
        {
            return upstream; // the connector's: connect or TLS
        }

        var bodyPhase = phase == UpstreamPhase.ReadBody;
        if (timedOut)
        {
            return new UpstreamException(phase, UpstreamErrorKind.Timeout,
                bodyPhase ? $"no response data within responseTimeout {responseTimeout.TotalMilliseconds:0}ms" : $"no response head within responseTimeout {responseTimeout.TotalMilliseconds:0}ms")
            { ResponseBytesReceived = bodyPhase };
        }

        var protocolError = FindInner<HttpProtocolException>(ex);
        var detail = protocolError is not null
            ? $"HTTP/2 stream reset by the backend ({(Http2ErrorCode)protocolError.ErrorCode})"
            : ex.InnerException is { } inner ? $"{ex.Message} ({inner.Message})" : ex.Message;
        var (failedPhase, kind) = (ex as HttpRequestException)?.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError or HttpRequestError.ConnectionError when !bodyPhase => (UpstreamPhase.Connect, UpstreamErrorKind.Refused),
            HttpRequestError.SecureConnectionError => (UpstreamPhase.Tls, UpstreamErrorKind.Reset),
            HttpRequestError.ResponseEnded => (phase, UpstreamErrorKind.Closed),
            HttpRequestError.InvalidResponse or HttpRequestError.VersionNegotiationError => (phase, UpstreamErrorKind.InvalidResponse),
            HttpRequestError.HttpProtocolError when protocolError is null => (phase, UpstreamErrorKind.InvalidResponse),
            _ => (phase, UpstreamErrorKind.Reset),
        };
        return new UpstreamException(failedPhase, kind, detail, ex) { ResponseBytesReceived = bodyPhase };
    }

    private static void CopyRequestHeaders(HttpContext context, HttpRequestMessage message, string fallbackHost, Routing.RouteModel route, Activity? span)
    {
        var transforms = route.Transforms;
        var request = context.Request;
        var headers = request.Headers;
        var nominated = headers.Connection;
        string? host = null;
        foreach (var header in headers)
        {
            var name = header.Key;
            var values = header.Value;
            if (name.Length == 2 && string.Equals(name, HeaderNames.TE, StringComparison.OrdinalIgnoreCase))
            {
                // The one TE value HTTP/2 allows; gRPC needs it to say it takes trailers.
                if (values.ToString().Contains("trailers", StringComparison.OrdinalIgnoreCase))
                {
                    message.Headers.TryAddWithoutValidation(HeaderNames.TE, "trailers");
                }

                continue;
            }

            if (RequestHeadWriter.IsDropped(name, nominated) || (span is not null && RequestTracing.IsTraceContext(name)))
            {
                continue;
            }

            if (name.Length == 4 && string.Equals(name, HeaderNames.Host, StringComparison.OrdinalIgnoreCase))
            {
                host = values.ToString();
                continue;
            }

            if (transforms is not null && transforms.SkipsRequestHeader(name))
            {
                continue;
            }

            var target = IsContentHeader(name) ? message.Content?.Headers : (System.Net.Http.Headers.HttpHeaders)message.Headers;
            if (target is null)
            {
                continue; // a content header on a request without a body
            }

            if (values.Count == 1)
            {
                target.TryAddWithoutValidation(name, values[0]);
            }
            else
            {
                target.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }

        // :authority: the client's Host, as HTTP/1.1 backends get it.
        message.Headers.TryAddWithoutValidation(HeaderNames.Host, transforms?.Host(context) ?? host ?? fallbackHost);
        transforms?.AddRequestHeaders(message, context);
        message.Headers.TryAddWithoutValidation("X-Forwarded-For", RequestHeadWriter.ForwardedFor(context, headers));
        if (RequestHeadWriter.Forwarded(context, headers, route.AddForwarded) is { } forwarded)
        {
            message.Headers.TryAddWithoutValidation("Forwarded", forwarded);
        }

        message.Headers.TryAddWithoutValidation("X-Forwarded-Proto", request.Scheme);
        if (host is not null)
        {
            message.Headers.TryAddWithoutValidation("X-Forwarded-Host", host);
        }

        if (span is not null)
        {
            message.Headers.TryAddWithoutValidation("traceparent", span.Id);
            if (span.TraceStateString is { } traceState)
            {
                message.Headers.TryAddWithoutValidation("tracestate", traceState);
            }
        }
    }

    private static bool IsContentHeader(string name) => name.Length switch
    {
        7 => string.Equals(name, HeaderNames.Expires, StringComparison.OrdinalIgnoreCase) || string.Equals(name, HeaderNames.Allow, StringComparison.OrdinalIgnoreCase),
        11 => string.Equals(name, HeaderNames.ContentMD5, StringComparison.OrdinalIgnoreCase),
        12 => string.Equals(name, HeaderNames.ContentType, StringComparison.OrdinalIgnoreCase),
        13 => string.Equals(name, HeaderNames.ContentRange, StringComparison.OrdinalIgnoreCase) || string.Equals(name, HeaderNames.LastModified, StringComparison.OrdinalIgnoreCase),
        16 => string.Equals(name, HeaderNames.ContentEncoding, StringComparison.OrdinalIgnoreCase) || string.Equals(name, HeaderNames.ContentLanguage, StringComparison.OrdinalIgnoreCase)
            || string.Equals(name, HeaderNames.ContentLocation, StringComparison.OrdinalIgnoreCase),
        19 => string.Equals(name, HeaderNames.ContentDisposition, StringComparison.OrdinalIgnoreCase),
        _ => false,
    };

    private static void CopyResponseHead(HttpResponseMessage response, HttpResponse clientResponse)
    {
        var status = (int)response.StatusCode;
        clientResponse.StatusCode = status;
        var headers = clientResponse.Headers;
        CopyFields(response.Headers.NonValidated, headers);
        CopyFields(response.Content.Headers.NonValidated, headers);
        if (response.Content.Headers.ContentLength is { } length && status is not (204 or 304) && status >= 200)
        {
            clientResponse.ContentLength = length;
        }
    }

    private static void CopyFields(System.Net.Http.Headers.HttpHeadersNonValidated fields, IHeaderDictionary headers)
    {
        foreach (var (name, values) in fields)
        {
            if (HttpTokens.IsHopByHop(name) || string.Equals(name, HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            headers[name] = values.Count == 1 ? new StringValues(values.ToString()) : new StringValues([.. values]);
        }
    }

    /// <summary>RFC 9113 §7 error codes, for log lines.</summary>
    private enum Http2ErrorCode
    {
        NoError = 0x0,
        ProtocolError = 0x1,
        InternalError = 0x2,
        FlowControlError = 0x3,
        SettingsTimeout = 0x4,
        StreamClosed = 0x5,
        FrameSizeError = 0x6,
        RefusedStream = 0x7,
        Cancel = 0x8,
        CompressionError = 0x9,
        ConnectError = 0xa,
        EnhanceYourCalm = 0xb,
        InadequateSecurity = 0xc,
        Http11Required = 0xd,
    }

    /// <summary>The client's request body as the HTTP/2 request's content, streamed; flushed after every read that
    /// does not end it, so a gRPC client-stream message reaches the backend when the client sends it.</summary>
    private sealed class RequestBodyContent(HttpContext context, long contentLength, Action onSent) : HttpContent
    {
        public bool AnyBodyConsumed { get; private set; }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? transportContext, CancellationToken cancellationToken)
        {
            // The handler sends a request again on a new connection when the backend refused its stream unprocessed
            // (GOAWAY below it, REFUSED_STREAM). Bytes taken from the client cannot be sent twice: then it fails instead.
            if (AnyBodyConsumed)
            {
                throw new IOException("the request body was already sent on a stream the backend did not process; it cannot be replayed");
            }

            var reader = context.Request.BodyReader;
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                var buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    AnyBodyConsumed = true;
                    foreach (var segment in buffer)
                    {
                        await stream.WriteAsync(segment, cancellationToken).ConfigureAwait(false);
                    }
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    onSent();
                    return;
                }

                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = contentLength;
            return contentLength >= 0;
        }
    }
}
