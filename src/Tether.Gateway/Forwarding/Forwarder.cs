using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Tether.Configuration;
using Tether.Gateway.Observability;
using Tether.Gateway.ProxyProtocol;
using Tether.Gateway.Routing;
using Tether.Upstream;
using Tether.Upstream.Connecting;
using Tether.Upstream.Destinations;
using Tether.Upstream.Http1;
using Tether.Upstream.Pooling;
using Tether.Upstream.Retries;
using Tether.Upstream.Tunnels;

namespace Tether.Gateway.Forwarding;

/// <summary>
/// Proxies one request to one cluster over the pool (YARP's HttpForwarder shape: numbered phases, one typed
/// error, one choke point in <see cref="ForwarderErrors"/>).
/// </summary>
internal sealed partial class Forwarder(ForwarderErrors errors, RequestTelemetry telemetry, ILogger<Forwarder> logger)
{
    /// <param name="route">The matched route: its cluster, transforms and forwarding headers.</param>
    /// <param name="target">The validated, normalised request target (<see cref="RequestValidator"/>), after the route's path transforms.</param>
    /// <param name="span">The request's server span (null while not traced): each attempt gets a child span.</param>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ForwardAsync(HttpContext context, RouteModel route, string target, Activity? span = null)
    {
        var cluster = route.Cluster!;
        // A small body of known length is received whole first, before any destination is ranked or connected.
        if (RequestBodySender.IsReceivedWhole(context.Request) && !await RequestBodySender.ReceiveWholeAsync(context, cluster, errors).ConfigureAwait(false))
        {
            return;
        }

        // 0. Candidates, most preferred first: the first attempt plus one per retry, from one ranking, into a
        // pooled array (no per-request allocation). A request keeps the set it ranked even if DNS swaps it.
        var set = cluster.Set;
        var wanted = Math.Min(set.Items.Length, cluster.Config.Retries.MaxAttempts + 1);
        var ranked = ArrayPool<int>.Shared.Rent(Math.Max(wanted, 1));
        try
        {
            var hasHash = false;
            ulong hash = 0;
            if (cluster.UsesHashKey)
            {
                hasHash = AffinityKey.TryHash(context, cluster.HashKey, out hash);
            }

            var count = cluster.Rank(set, hash, hasHash, ranked.AsSpan(0, wanted));
            if (count == 0)
            {
                Log.NoHealthyDestination(logger, cluster.Name, set.Items.Length);
                await errors.NoDestinationAsync(context, cluster).ConfigureAwait(false);
                return;
            }

            set.Items[ranked[0]].OnPicked();
            cluster.RetryBudget.OnRequest();
            await ForwardAcrossAsync(context, cluster, route, target, set, ranked, count, span).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<int>.Shared.Return(ranked);
        }
    }

    // Tries the ranked candidates in turn. Connect failures and the safe-retry cases move to the next one,
    // bounded by retries.maxAttempts, retries.timeout and the cluster's retry budget; the foundation's retry
    // of a stale pooled connection is free, once (nginx: it "does not use up a try").
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ForwardAcrossAsync(HttpContext context, ClusterState cluster, RouteModel route, string target, DestinationSet set, int[] ranked, int count, Activity? span)
    {
        var request = context.Request;
        var requestWasHead = HttpMethods.IsHead(request.Method);
        // A WebSocket over HTTP/2 (RFC 8441 extended CONNECT) goes to the backend as an HTTP/1.1 Upgrade; its stream
        // is the tunnel, not a body.
        var webSocketOverHttp2 = RequestValidator.IsWebSocketOverHttp2(context) ? context.Features.Get<IHttpExtendedConnectFeature>() : null;
        var bodyMode = RequestHeadWriter.DecideBodyMode(request, out var contentLength);
        if (webSocketOverHttp2 is not null)
        {
            bodyMode = RequestBodyMode.None;
            contentLength = -1;
        }

        var upgradeFeature = context.Features.Get<IHttpUpgradeFeature>();
        // "Content-Length: 0" has nothing to stream: its head is the whole request, sent like a bodiless one.
        // A PROXY header names this client on the connections opened for it (never pooled for another).
        var connectData = cluster.Config.ProxyProtocol == Configuration.ProxyProtocolVersion.Off
            ? default
            : new ConnectData(BackendProxyHeader.For(context, cluster.Config.ProxyProtocol));
        var exchange = new Exchange(
            target, requestWasHead, bodyMode, contentLength, upgradeFeature, webSocketOverHttp2,
            bodyMode == RequestBodyMode.None || contentLength == 0 ? null : new RequestBodySender(context, bodyMode), connectData, route, route.Compression);

        var retries = cluster.Config.Retries;
        var idempotent = RetryRules.IsIdempotent(request.Method);
        var started = cluster.TimeProvider.GetTimestamp();
        var next = 0;
        var destination = NextCandidate(set, ranked, count, ref next);
        if (destination is null)
        {
            // Every candidate began draining between ranking and now (a DNS change): nothing was sent.
            Log.NoHealthyDestination(logger, cluster.Name, set.Items.Length);
            await errors.NoDestinationAsync(context, cluster).ConfigureAwait(false);
            return;
        }

        var attempts = 1;
        var tries = 0;
        var staleRetried = false;
        var requireNew = false;
        while (true)
        {
            Attempt attempt = default;
            var attemptStarted = Stopwatch.GetTimestamp();
            var attemptSpan = RequestTracing.StartAttempt(span, context, destination, ++tries);
            try
            {
                attempt = await AttemptAsync(context, cluster, destination, requireNew, exchange, attemptSpan).ConfigureAwait(false);
            }
            finally
            {
                destination.OnRequestEnded();
                telemetry.OnAttemptEnded(context, destination, attemptStarted);
                RequestTracing.EndAttempt(attemptSpan, context, attempt.Error);
            }

            if (attempt.Error is not { } error)
            {
                return;
            }

            if (RetryRules.CountsAgainstDestination(error, attempt.Reused))
            {
                cluster.ReportFailure(destination);
            }

            var decision = RetryRules.Classify(error, attempt.Reused, attempt.BodyConsumed || exchange.Body is { AnyBodyConsumed: true }, idempotent);
            var free = decision == RetryDecision.StaleConnection && !staleRetried;
            if (decision == RetryDecision.None || context.RequestAborted.IsCancellationRequested
                || (!free && !MayRetry(cluster, retries, attempts, started)))
            {
                await errors.FailAsync(context, cluster, destination, error, attempt.Reused).ConfigureAwait(false);
                return;
            }

            staleRetried |= free;
            var failed = destination;
            destination = NextCandidate(set, ranked, count, ref next);
            requireNew = false;
            if (destination is null && free && failed.TryEnter())
            {
                // No other destination: the foundation's retry, on a fresh connection to the same one.
                destination = failed;
                requireNew = true;
            }

            if (destination is null)
            {
                await errors.FailAsync(context, cluster, failed, error, attempt.Reused).ConfigureAwait(false);
                return;
            }

            if (!free)
            {
                attempts++;
            }

            Log.Retrying(logger, cluster.Name, failed.Name, error.Phase, error.Kind, error.Message, destination.Name, attempts, attempt.Reused);
        }
    }

    private static bool MayRetry(ClusterState cluster, RetryConfig retries, int attempts, long started)
    {
        if (attempts >= retries.MaxAttempts)
        {
            return false;
        }

        if (retries.Timeout is { } timeout && cluster.TimeProvider.GetElapsedTime(started) >= timeout)
        {
            return false;
        }

        // Last, so that the budget is spent only on retries that will happen.
        return cluster.RetryBudget.TryRetry();
    }

    // The next ranked destination that is not draining, counted in (InFlight) on return.
    private static DestinationState? NextCandidate(DestinationSet set, int[] ranked, int count, ref int next)
    {
        while (next < count)
        {
            var candidate = set.Items[ranked[next++]];
            if (candidate.TryEnter())
            {
                return candidate;
            }
        }

        return null;
    }

    // One attempt on one destination. Returns the error if it failed in a way the caller decides about;
    // a success, a client that went away and a tunnel are finished here.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Attempt> AttemptAsync(HttpContext context, ClusterState cluster, DestinationState destination, bool requireNew, Exchange exchange, Activity? span)
    {
        var (target, requestWasHead, bodyMode, contentLength, upgradeFeature, webSocketOverHttp2, body, connectData, route, compression) = exchange;
        var upgrade = upgradeFeature is { IsUpgradableRequest: true } || webSocketOverHttp2 is not null;

        // HTTP/2 destinations take every request but upgrades (a tunnel starts as an HTTP/1.1 connection).
        if (destination.Http2 is { } http2 && !upgrade)
        {
            bool usesHttp2;
            try
            {
                usesHttp2 = await destination.UsesHttp2Async(context.RequestAborted).ConfigureAwait(false);
            }
            catch (UpstreamException ex)
            {
                return new Attempt(ex, Reused: false);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                return default;
            }

            if (usesHttp2)
            {
                return await Http2AttemptAsync(context, cluster, destination, http2, exchange, span).ConfigureAwait(false);
            }
        }

        // 1. A connection: idle and probed, new, or after a wait at the destination's cap.
        PooledLease<Http1Connection> lease;
        try
        {
            lease = await destination.Pool.AcquireAsync(requireNew, connectData, context.RequestAborted).ConfigureAwait(false);
        }
        catch (PoolExhaustedException ex)
        {
            return new Attempt(new UpstreamException(UpstreamPhase.Queue, UpstreamErrorKind.NoCapacity, ex.Message, ex), Reused: false);
        }
        catch (UpstreamException ex)
        {
            return new Attempt(ex, Reused: false);
        }
        catch (ObjectDisposedException ex)
        {
            // The destination's pool closed under us (shutdown, or drained by DNS): nothing was sent.
            return new Attempt(new UpstreamException(UpstreamPhase.Queue, UpstreamErrorKind.NoCapacity, "destination removed", ex), Reused: false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return default;
        }

        var connection = lease.Connection;
        telemetry.OnConnection(context, lease.Reused);
        RequestTracing.OnConnection(span, lease.Reused);
        var released = false;
        CompressedBody? compressed = null;
        var registration = context.RequestAborted.UnsafeRegister(static s => ((Http1Connection)s!).Abort(), connection);
        try
        {
            connection.BeginRequest();

            // A connection that will not be reused (no idle slots at all, or its last request by maxRequests or
            // the backend's Keep-Alive: max) asks the backend to close it.
            ConnectionCloseReason? lastRequest = destination.Pool.Options.MaxIdle == 0 ? ConnectionCloseReason.PoolFull
                : connection.Lifetime.IsLastRequest ? ConnectionCloseReason.MaxRequests
                : null;

            // 2. The request head, then 3. the body, if any.
            RequestHeadWriter.Write(
                connection.Output, context, target, bodyMode, contentLength, upgrade, destination.HostHeader, lastRequest is not null, webSocketOverHttp2 is not null,
                route.Transforms, route.AddForwarded, span);
            if (body is null)
            {
                await connection.FlushAsync(UpstreamPhase.SendRequest).ConfigureAwait(false);
            }
            else
            {
                await body!.SendAsync(connection).ConfigureAwait(false);
            }

            // 4. The response head.
            var head = await connection.ReadResponseHeadAsync(requestWasHead, cluster.ReadTimeouts).ConfigureAwait(false);
            connection.Lifetime.LearnServerKeepAlive(head.KeepAliveTimeout, head.KeepAliveMax);
            if (head.StatusCode >= 500)
            {
                cluster.ReportFailure(destination);
            }
            else
            {
                cluster.ReportSuccess(destination);
            }

            if (head.StatusCode == 101)
            {
                await registration.DisposeAsync().ConfigureAwait(false);
                released = true;
                await TunnelAsync(context, cluster, upgradeFeature, webSocketOverHttp2, destination, connection, head).ConfigureAwait(false);
                return default;
            }

            var response = context.Response;
            ResponseHeadCopier.Copy(head, response);
            if (route.Transforms is { ChangesResponse: true } transforms)
            {
                transforms.ApplyResponse(context, response);
            }

            var forwardsTrailers = ResponseTrailers.Declare(context, head);
            compressed = compression?.Begin(context);

            // 5. The body. The connection goes back to the pool as soon as the last byte is read, then the
            // last bytes go to the client.
            var clean = await connection.CopyBodyAsync(compressed?.Writer ?? response.BodyWriter, cluster.ReadTimeouts, context.RequestAborted).ConfigureAwait(false);
            if (compressed is not null)
            {
                await compressed.CompleteAsync().ConfigureAwait(false);
            }

            await registration.DisposeAsync().ConfigureAwait(false);
            var trailers = forwardsTrailers && clean ? connection.TakeTrailers() : null;
            var closeReason = !clean ? ConnectionCloseReason.ServerClose
                : lastRequest ?? (head.ConnectionClose ? ConnectionCloseReason.ServerClose : connection.EndExchange());
            released = true;
            destination.Pool.Release(connection, closeReason);
            if (trailers is not null)
            {
                ResponseTrailers.Append(response, trailers);
            }

            // Flushed here, not left to Kestrel: Kestrel 10 does not send bytes written after an earlier flush of a
            // Content-Length response when the request ends (they wait for the connection's next flush), so a
            // body larger than one read would stall (BodyTests.A_one_megabyte_response_is_streamed_intact).
            try
            {
                await response.BodyWriter.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
            {
                // The client went away after the whole response was read: nothing left to do for it.
            }

            return default;
        }
        catch (UpstreamException ex)
        {
            await registration.DisposeAsync().ConfigureAwait(false);
            var aborted = context.RequestAborted.IsCancellationRequested;
            if (!released)
            {
                released = true;
                destination.Pool.Release(connection, ex.Kind == UpstreamErrorKind.InvalidResponse ? ConnectionCloseReason.InvalidResponse : ConnectionCloseReason.Error);
            }

            if (aborted || ex.Kind == UpstreamErrorKind.ClientAborted)
            {
                errors.ClientAborted(context, cluster, destination, ex);
                return default;
            }

            return new Attempt(ex, lease.Reused);
        }
        catch (BadHttpRequestException ex)
        {
            // The client's body broke mid-request (a bad chunk, too slow, too large). Answered here, not rethrown
            // to Kestrel: each rethrow cost ~1.7 ms of CPU and an error log with a stack trace, 1,000 of them
            // under a slow-body attack. Kestrel still closes the connection once we return.
            await registration.DisposeAsync().ConfigureAwait(false);
            if (!released)
            {
                destination.Pool.Release(connection, ConnectionCloseReason.Error);
            }

            await errors.ClientBadRequestAsync(context, cluster, destination, ex).ConfigureAwait(false);
            return default;
        }
        catch
        {
            await registration.DisposeAsync().ConfigureAwait(false);
            if (!released)
            {
                destination.Pool.Release(connection, ConnectionCloseReason.Error);
            }

            throw;
        }
        finally
        {
            // A body that broke mid-way: free the encoder (its pooled and native buffers); the client's response is cut anyway.
            compressed?.Abandon();
        }
    }

    private async Task TunnelAsync(
        HttpContext context, ClusterState cluster, IHttpUpgradeFeature? upgradeFeature, IHttpExtendedConnectFeature? webSocketOverHttp2,
        DestinationState destination, Http1Connection connection, Http1ResponseHead head)
    {
        try
        {
            Stream client;
            bool webSocket;
            if (webSocketOverHttp2 is not null)
            {
                // RFC 8441 §5: the backend's 101 is the client's 200 on its stream; the handshake headers are HTTP/1.1's.
                ResponseHeadCopier.Copy(head, context.Response);
                context.Response.StatusCode = StatusCodes.Status200OK;
                var headers = context.Response.Headers;
                headers.Remove("Upgrade");
                headers.Remove("Sec-WebSocket-Accept");
                client = await webSocketOverHttp2.AcceptAsync().ConfigureAwait(false);
                webSocket = true;
            }
            else if (upgradeFeature is { IsUpgradableRequest: true })
            {
                ResponseHeadCopier.Copy(head, context.Response);
                client = await upgradeFeature.UpgradeAsync().ConfigureAwait(false);
                webSocket = string.Equals(context.Request.Headers.Upgrade.ToString(), "websocket", StringComparison.OrdinalIgnoreCase);
            }
            else
            {
                // The backend switched protocols the client never asked for: refuse rather than desync.
                throw new UpstreamException(UpstreamPhase.ReadHeaders, UpstreamErrorKind.InvalidResponse, "101 Switching Protocols to a request that did not ask to upgrade");
            }

            var config = cluster.Config;
            var options = new TunnelOptions(config.TunnelIdleTimeout, webSocket ? config.WebSocketPingInterval : null);
            switch (await connection.TunnelAsync(client, options, context.RequestAborted).ConfigureAwait(false))
            {
                case TunnelEnd.Idle:
                    Log.TunnelIdle(logger, cluster.Name, destination.Name, config.TunnelIdleTimeout!.Value.TotalSeconds);
                    break;
                case TunnelEnd.ClientUnresponsive:
                    Log.TunnelPeerUnresponsive(logger, cluster.Name, destination.Name, "client", config.WebSocketPingInterval!.Value.TotalSeconds);
                    break;
                case TunnelEnd.BackendUnresponsive:
                    Log.TunnelPeerUnresponsive(logger, cluster.Name, destination.Name, "backend", config.WebSocketPingInterval!.Value.TotalSeconds);
                    break;
            }
        }
        finally
        {
            destination.Pool.Release(connection, ConnectionCloseReason.Upgraded);
        }
    }

    /// <summary>What every attempt of one request shares: how to frame it, and the body sender (null without a
    /// body), which remembers whether a body byte has left the client (then nothing is retried).</summary>
    private readonly record struct Exchange(
        string Target, bool RequestWasHead, RequestBodyMode BodyMode, long ContentLength, IHttpUpgradeFeature? UpgradeFeature,
        IHttpExtendedConnectFeature? WebSocketOverHttp2, RequestBodySender? Body,
        ConnectData ConnectData, RouteModel Route, ResponseCompression? Compression);

    /// <summary>An attempt's failure for the caller to decide about (retry or answer); default = done.
    /// <paramref name="BodyConsumed"/>: an HTTP/2 attempt took request body bytes (then nothing is retried).</summary>
    private readonly record struct Attempt(UpstreamException? Error, bool Reused, bool BodyConsumed = false);

    private static partial class Log
    {
        [LoggerMessage(EventId = 2020, EventName = "UpstreamRetry", Level = LogLevel.Information,
            Message = "cluster={Cluster} destination={Destination} phase={Phase} cause={Kind} ({Detail}, reused connection: {Reused}); retrying on {Next}, attempt {Attempt}")]
        public static partial void Retrying(ILogger logger, string cluster, string destination, UpstreamPhase phase, UpstreamErrorKind kind, string detail, string next, int attempt, bool reused);

        [LoggerMessage(EventId = 2022, EventName = "TunnelIdle", Level = LogLevel.Information,
            Message = "cluster={Cluster} destination={Destination}: tunnel closed, no byte crossed it either way for {Seconds}s (tunnelIdleTimeout)")]
        public static partial void TunnelIdle(ILogger logger, string cluster, string destination, double seconds);

        [LoggerMessage(EventId = 2023, EventName = "TunnelPeerUnresponsive", Level = LogLevel.Information,
            Message = "cluster={Cluster} destination={Destination}: WebSocket tunnel closed, the {Side} sent nothing for {Seconds}s after Tether pinged it (webSocketPingInterval)")]
        public static partial void TunnelPeerUnresponsive(ILogger logger, string cluster, string destination, string side, double seconds);

        [LoggerMessage(EventId = 2021, EventName = "NoHealthyDestination", Level = LogLevel.Warning,
            Message = "cluster={Cluster}: none of its {Count} destination(s) is available (ejected, failing probes or draining)")]
        public static partial void NoHealthyDestination(ILogger logger, string cluster, int count);
    }
}
