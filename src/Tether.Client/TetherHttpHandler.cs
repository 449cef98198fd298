using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging.Abstractions;
using Tether.Upstream;
using Tether.Upstream.Destinations;
using Tether.Upstream.Discovery;
using Tether.Upstream.Http1;
using Tether.Upstream.Http2;
using Tether.Upstream.Pooling;
using Tether.Upstream.Retries;

namespace Tether.Client;

/// <summary>
/// An <see cref="HttpMessageHandler"/> for <see cref="HttpClient"/> over Tether's HTTP/1.1 keep-alive pool (see
/// <see cref="TetherClientOptions"/>): idle connections are probed before reuse, a reused connection that fails before
/// any response byte is retried once on a fresh one (idempotent methods, or any request whose head did not leave),
/// the server's Keep-Alive header and its unannounced idle timeout are learned, and a host name's addresses are all
/// used (least in-flight requests first), re-resolved, and drained when DNS drops one.
/// </summary>
/// <remarks>
/// Errors: a timeout (the caller's token, HttpClient.Timeout, <see cref="TetherClientOptions.ConnectTimeout"/>,
/// <see cref="TetherClientOptions.ResponseTimeout"/>) is a <see cref="TaskCanceledException"/>; a failed exchange an
/// <see cref="HttpRequestException"/> with <see cref="HttpRequestException.HttpRequestError"/> set (ConnectionError,
/// NameResolutionError, SecureConnectionError, ResponseEnded, InvalidResponse). The response body streams from the
/// connection, which returns to the pool when the body has been read to its end (dispose the response otherwise).
/// </remarks>
public sealed partial class TetherHttpHandler : HttpMessageHandler
{
    // Hosts remembered at once; a host unused for a while is forgotten by the sweep (its DNS refresh stops with it).
    private const int MaxHosts = 4096;

    // The ranking of a host with one address: that address (read only).
    private static readonly int[] s_loneRanking = [0];

    private readonly TetherClientOptions _options;
    private readonly ConcurrentDictionary<HostKey, HostPool> _hosts = new();
    private readonly object _createLock = new();
    private readonly IHostResolver _resolver;
    private readonly IClusterObserver _observer;
    private readonly ITimer _sweeper;
    private readonly TimeSpan _forgetHostAfter;
    private int _disposed;

    /// <summary>A handler with the default <see cref="TetherClientOptions"/>.</summary>
    public TetherHttpHandler()
        : this(new TetherClientOptions())
    {
    }

    /// <summary>A handler with <paramref name="options"/> (copied: later changes to them have no effect).</summary>
    /// <exception cref="ArgumentException">An option is invalid; the message names each and the fix.</exception>
    public TetherHttpHandler(TetherClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid TetherClientOptions: " + string.Join("; ", errors), nameof(options));
        }

        _options = options.Clone();
        _resolver = _options.ResolveHost is { } resolve ? new DelegateHostResolver(resolve) : SystemHostResolver.Instance;
        var logger = _options.LoggerFactory?.CreateLogger("Tether.Client") ?? NullLogger.Instance;
        _observer = new ClientClusterObserver(logger);
        _forgetHostAfter = _options.IdleTimeout + TimeSpan.FromMinutes(1);

        // The timer holds the handler weakly: an HttpClient dropped without Dispose does not keep it alive.
        var weak = new WeakReference<TetherHttpHandler>(this);
        _sweeper = _options.TimeProvider.CreateTimer(static s => SweepCallback(s!), weak, _options.SweepInterval, _options.SweepInterval);
    }

    /// <summary>The options in force (a copy of those given).</summary>
    public TetherClientOptions Options => _options.Clone();

    /// <summary>Hosts with a pool now.</summary>
    internal int HostCount => _hosts.Count;

    internal HostPool? FindHost(Uri uri) => _hosts.TryGetValue(HostKey.For(uri), out var host) ? host : null;

    /// <inheritdoc />
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken) =>
        SendAsync(request, cancellationToken).GetAwaiter().GetResult();

    /// <inheritdoc />
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var uri = request.RequestUri;
        if (uri is null || !uri.IsAbsoluteUri)
        {
            throw new InvalidOperationException("The request has no absolute RequestUri; set one, or HttpClient.BaseAddress.");
        }

        if (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
        {
            throw new NotSupportedException($"The '{uri.Scheme}' scheme is not supported; TetherHttpHandler speaks http and https.");
        }

        var need = NeedOf(request, uri);

        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<HttpResponseMessage>(cancellationToken);
        }

        // The Task HttpClient awaits is the one object of a request's async path that cannot be pooled (a caller may
        // hold it for ever), so SendToHostAsync is an async Task method and its state machine is that Task. A pooled
        // ValueTask under AsTask allocates less (1,510 against 1,690 bytes a request) but costs a second completion
        // hop on every request: 0.87x against 0.93x SocketsHttpHandler's requests/s, alternated runs of client-bench.
        return SendToHostAsync(request, HostKey.For(uri), need, cancellationToken);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _sweeper.Dispose();
            lock (_createLock)
            {
                foreach (var host in _hosts.Values)
                {
                    host.Dispose();
                }

                _hosts.Clear();
            }
        }

        base.Dispose(disposing);
    }

    /// <summary>Closes expired idle connections and lets drained addresses and long-unused hosts go. The timer calls it
    /// every <see cref="TetherClientOptions.SweepInterval"/>; tests call it directly.</summary>
    internal void Sweep()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        foreach (var host in _hosts.Values)
        {
            host.Cluster.Sweep();
            host.TrackPools();
            if (_options.TimeProvider.GetElapsedTime(host.LastUsedTimestamp) >= _forgetHostAfter && host.IsUnused)
            {
                lock (_createLock)
                {
                    if (_hosts.TryRemove(new KeyValuePair<HostKey, HostPool>(host.Key, host)))
                    {
                        host.Dispose();
                    }
                }
            }
        }
    }

    private static void SweepCallback(object state)
    {
        if (((WeakReference<TetherHttpHandler>)state).TryGetTarget(out var handler))
        {
            handler.Sweep();
        }
    }

    private HostPool GetHost(HostKey key)
    {
        if (_hosts.TryGetValue(key, out var host))
        {
            return host;
        }

        lock (_createLock)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            if (_hosts.TryGetValue(key, out host))
            {
                return host;
            }

            if (_hosts.Count >= MaxHosts)
            {
                throw new HttpRequestException(HttpRequestError.ConnectionError,
                    $"{key.Authority}: more than {MaxHosts} hosts in use by one TetherHttpHandler; hosts unused for {_forgetHostAfter.TotalSeconds:0} s are forgotten");
            }

            host = new HostPool(key, _options, _resolver, _observer);
            _hosts[key] = host;
            host.TrackPools();
            return host;
        }
    }

    // One async method from the host look-up to the response head (AttemptAsync below it is a pooled ValueTask): each
    // async layer that suspends on every request costs a resume, and a state-machine box unless it is pooled.
    private async Task<HttpResponseMessage> SendToHostAsync(HttpRequestMessage request, HostKey key, VersionNeed need, CancellationToken cancellationToken)
    {
        // A host forgotten by the sweep between the look-up and the acquire is looked up again (once is plenty: the
        // sweep forgets only hosts unused for minutes).
        for (var round = 0; ; round++)
        {
            // The clock is read once a request: the host's last use, the ranking, the retry budget and the retry timeout.
            var host = GetHost(key);
            var started = host.TimeProvider.GetTimestamp();
            host.Touch(started);
            var resolved = host.Cluster.FirstResolution;
            if (!resolved.IsCompleted)
            {
                await resolved.WaitAsync(cancellationToken).ConfigureAwait(false);
                host.TrackPools();
                started = host.TimeProvider.GetTimestamp();
            }

            // Tries the ranked addresses in turn (Tether.Gateway's forwarder without the proxying): a connect failure, or
            // a request that provably did not reach the server, moves to the next, bounded by MaxAttempts and the retry
            // budget; the retry of a stale pooled connection is free, once.
            var cluster = host.Cluster;
            var set = cluster.Set;

            // A host with one address (most) has nothing to rank: no rented array, no policy call.
            var lone = set.Items.Length == 1;
            var wanted = Math.Max(1, Math.Min(set.Items.Length, _options.MaxAttempts));
            var ranked = lone ? s_loneRanking : ArrayPool<int>.Shared.Rent(wanted);
            try
            {
                var count = lone ? (set.Items[0].IsAvailable(started) ? 1 : 0) : cluster.Rank(set, 0, false, ranked.AsSpan(0, wanted), started);
                if (count == 0)
                {
                    throw new HttpRequestException(HttpRequestError.ConnectionError,
                        $"{host.Authority}: none of its {set.Items.Length} address(es) is available (each failed repeatedly and is ejected for a while)");
                }

                set.Items[ranked[0]].OnPicked();
                cluster.RetryBudget.OnRequest(started);

                var bodyLength = RequestHead.BodyLength(request);
                var replayable = RequestBody.IsReplayable(request.Content);
                var idempotent = RetryRules.IsIdempotent(request.Method.Method);
                var next = 0;
                var destination = NextCandidate(set, ranked, count, ref next);
                if (destination is null)
                {
                    throw new HttpRequestException(HttpRequestError.ConnectionError, $"{host.Authority}: every address was being drained (a DNS change)");
                }

                // When the attempt starts, for the pool's idle-age check: the request's start for the first, the clock
                // again for a retry (which may follow a connect timeout).
                var attemptAt = started;
                var attempts = 1;
                var staleRetried = false;
                var requireNew = false;
                while (destination is not null)
                {
                    Attempt attempt;
                    try
                    {
                        attempt = need != VersionNeed.Http1 && destination.Http2 is { } http2
                            ? await NegotiatedAttemptAsync(request, host, destination, http2, need, cancellationToken).ConfigureAwait(false)
                            : Attempt.OverHttp1;
                        if (attempt.UseHttp1)
                        {
                            // The HTTP/1.1 attempt. Its start (a connection, the head, the body) nearly always completes
                            // without waiting, and then the response head is awaited here rather than in a method of
                            // its own: the one wait every request has costs one suspension and one resume, not two of
                            // each. A start that has to wait (a connect, the queue, a body) goes through Http1AttemptAsync:
                            // awaiting the start here instead puts its awaiter in the request's Task box, 63 bytes
                            // more on every request (1,829 against 1,766 in client-bench).
                            var start = StartHttp1AttemptAsync(request, host, destination, requireNew, bodyLength, attemptAt, cancellationToken);
                            if (!start.IsCompletedSuccessfully)
                            {
                                attempt = await Http1AttemptAsync(start, request, host, destination, cancellationToken).ConfigureAwait(false);
                            }
                            else
                            {
                                // Result is read once: a start that completed between its first wait and this check is
                                // backed by a pooled box, which the first read gives back.
                                var exchange = start.Result;
                                if (exchange.Error is not null)
                                {
                                    attempt = new Attempt(null, exchange.Error, exchange.Reused, exchange.BodyStarted);
                                }
                                else
                                {
                                    try
                                    {
                                        var head = await ReadHeadAsync(exchange, request).ConfigureAwait(false);
                                        attempt = FinishHttp1Attempt(request, host, destination, exchange, head);
                                    }
                                    catch (Exception ex)
                                    {
                                        attempt = Http1AttemptFailed(destination, exchange, ex, cancellationToken);
                                    }
                                }
                            }
                        }
                    }
                    catch
                    {
                        destination.OnRequestEnded();
                        throw;
                    }

                    if (attempt.Response is { } response)
                    {
                        return response; // the response's body stream ends the destination's in-flight count
                    }

                    destination.OnRequestEnded();
                    var error = attempt.Error!;
                    if (error is { Phase: UpstreamPhase.Queue, InnerException: ObjectDisposedException }
                        && !(_hosts.TryGetValue(host.Key, out var current) && ReferenceEquals(current, host)))
                    {
                        destination = null; // the sweep forgot the host under us: start again with a fresh one
                        break;
                    }

                    if (RetryRules.CountsAgainstDestination(error, attempt.Reused))
                    {
                        cluster.ReportFailure(destination);
                    }

                    var bodyConsumed = attempt.BodyStarted && !replayable;
                    var decision = RetryRules.Classify(error, attempt.Reused, bodyConsumed, idempotent);
                    var free = decision == RetryDecision.StaleConnection && !staleRetried;
                    if (decision == RetryDecision.None || (!free && !MayRetry(cluster, attempts, started)))
                    {
                        throw ClientErrors.RequestFailed(error, destination.Name);
                    }

                    staleRetried |= free;
                    var failed = destination;
                    destination = NextCandidate(set, ranked, count, ref next);
                    requireNew = false;
                    if (destination is null && free && failed.TryEnter())
                    {
                        // No other address: the stale connection's retry goes to the same one, on a fresh connection.
                        destination = failed;
                        requireNew = true;
                    }

                    if (destination is null)
                    {
                        throw ClientErrors.RequestFailed(error, failed.Name);
                    }

                    if (!free)
                    {
                        attempts++;
                    }

                    attemptAt = host.TimeProvider.GetTimestamp();
                }
            }
            finally
            {
                if (!lone)
                {
                    ArrayPool<int>.Shared.Return(ranked);
                }
            }

            if (round > 0)
            {
                throw new HttpRequestException(HttpRequestError.ConnectionError, $"{key.Authority}: the host's pools were closed while the request started");
            }
        }
    }

    private bool MayRetry(ClusterState cluster, int attempts, long started)
    {
        if (attempts >= _options.MaxAttempts)
        {
            return false;
        }

        if (cluster.Config.Retries.Timeout is { } timeout && _options.TimeProvider.GetElapsedTime(started) >= timeout)
        {
            return false;
        }

        return cluster.RetryBudget.TryRetry();
    }

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

    // An attempt on an address with an HTTP/2 pool: over h2 when the address speaks it (Protocol Http2; Auto once ALPN
    // chose h2), else HTTP/1.1 unless the request requires h2.
    private async ValueTask<Attempt> NegotiatedAttemptAsync(
        HttpRequestMessage request, HostPool host, DestinationState destination, Http2Pool http2, VersionNeed need, CancellationToken cancellationToken)
    {
        bool usesHttp2;
        try
        {
            usesHttp2 = await destination.UsesHttp2Async(cancellationToken).ConfigureAwait(false);
        }
        catch (UpstreamException ex) when (!cancellationToken.IsCancellationRequested)
        {
            return new Attempt(null, ex, false, false);
        }

        if (usesHttp2)
        {
            return await Http2AttemptAsync(request, host, destination, http2, cancellationToken).ConfigureAwait(false);
        }

        if (need == VersionNeed.Http2)
        {
            throw new HttpRequestException(HttpRequestError.VersionNegotiationError,
                $"HTTP/{request.Version} was required (VersionPolicy {request.VersionPolicy}), but {destination.Name} chose HTTP/1.1 by ALPN");
        }

        return Attempt.OverHttp1;
    }

    // The start of an HTTP/1.1 attempt on one address: a connection, the head and the body sent. Either an exchange
    // whose response head the caller reads next, or an error for the caller to decide about (Error); cancellation throws.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Http1Exchange> StartHttp1AttemptAsync(
        HttpRequestMessage request, HostPool host, DestinationState destination, bool requireNew, long bodyLength, long attemptAt, CancellationToken cancellationToken)
    {
        // 1. A connection: idle and probed, new, or after a wait at MaxConnectionsPerHost.
        PooledLease<Http1Connection> lease;
        try
        {
            lease = await destination.Pool.AcquireAsync(requireNew, default, attemptAt, cancellationToken).ConfigureAwait(false);
        }
        catch (PoolExhaustedException ex)
        {
            return Http1Exchange.Failure(new UpstreamException(UpstreamPhase.Queue, UpstreamErrorKind.NoCapacity, ex.Message, ex));
        }
        catch (UpstreamException ex) when (!cancellationToken.IsCancellationRequested)
        {
            return Http1Exchange.Failure(ex);
        }
        catch (UpstreamException ex)
        {
            throw new OperationCanceledException("The request was canceled while connecting.", ex, cancellationToken);
        }
        catch (ObjectDisposedException ex)
        {
            // The address was drained and its pool closed between the ranking and now, or the handler is being disposed.
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            return Http1Exchange.Failure(new UpstreamException(UpstreamPhase.Queue, UpstreamErrorKind.NoCapacity, "address removed", ex));
        }

        var connection = lease.Connection;
        ClientMetrics.OnConnection(lease.Reused, connection.Lifetime.IdleSinceTimestamp, host.TimeProvider, host.Key.Host, host.Key.Port);
        var registration = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static s => ((Http1Connection)s!).Abort(), connection)
            : default;

        // A connection that will not be reused (no idle slots, its last request by MaxRequestsPerConnection or the
        // server's Keep-Alive: max, or the caller asked) tells the server so.
        connection.BeginRequest();
        ConnectionCloseReason? closeAfter = destination.Pool.Options.MaxIdle == 0 ? ConnectionCloseReason.PoolFull
            : connection.Lifetime.IsLastRequest ? ConnectionCloseReason.MaxRequests
            : request.Headers.ConnectionClose == true ? ConnectionCloseReason.ServerClose
            : null;
        var exchange = new Http1Exchange(connection, lease.Reused, BodyStarted: false, closeAfter, registration, Error: null);
        try
        {
            // 2. The head, then 3. the body, streamed.
            RequestHead.Write(connection.Output, request, host.DefaultHostHeader, bodyLength, closeAfter is not null);
            if (request.Content is { } content)
            {
                exchange = exchange with { BodyStarted = true };
                await RequestBody.SendAsync(connection, content, bodyLength, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await connection.FlushAsync(UpstreamPhase.SendRequest).ConfigureAwait(false);
            }

            return exchange;
        }
        catch (Exception ex)
        {
            var failed = Http1AttemptFailed(destination, exchange, ex, cancellationToken);
            return exchange with { Connection = null, Registration = default, Error = failed.Error };
        }
    }

    // An HTTP/1.1 attempt whose start waited.
    private async ValueTask<Attempt> Http1AttemptAsync(
        ValueTask<Http1Exchange> start, HttpRequestMessage request, HostPool host, DestinationState destination, CancellationToken cancellationToken)
    {
        var exchange = await start.ConfigureAwait(false);
        if (exchange.Error is not null)
        {
            return new Attempt(null, exchange.Error, exchange.Reused, exchange.BodyStarted);
        }

        try
        {
            var head = await ReadHeadAsync(exchange, request).ConfigureAwait(false);
            return FinishHttp1Attempt(request, host, destination, exchange, head);
        }
        catch (Exception ex)
        {
            return Http1AttemptFailed(destination, exchange, ex, cancellationToken);
        }
    }

    private ValueTask<Http1ResponseHead> ReadHeadAsync(in Http1Exchange exchange, HttpRequestMessage request) =>
        exchange.Connection!.ReadResponseHeadAsync(request.Method == HttpMethod.Head, new ReadTimeouts(_options.ResponseTimeout));

    // 4. The response head has arrived: the response, with the destination still counted in flight (its body ends that).
    private Attempt FinishHttp1Attempt(HttpRequestMessage request, HostPool host, DestinationState destination, in Http1Exchange exchange, Http1ResponseHead head)
    {
        if (head.StatusCode == 101)
        {
            throw new UpstreamException(UpstreamPhase.ReadHeaders, UpstreamErrorKind.InvalidResponse,
                "101 Switching Protocols to a request that did not ask to upgrade") { ResponseBytesReceived = true };
        }

        var connection = exchange.Connection!;
        connection.Lifetime.LearnServerKeepAlive(head.KeepAliveTimeout, head.KeepAliveMax);
        if (head.StatusCode >= 500)
        {
            host.Cluster.ReportFailure(destination);
        }
        else
        {
            host.Cluster.ReportSuccess(destination);
        }

        var closeAfter = exchange.CloseAfter ?? (head.ConnectionClose ? ConnectionCloseReason.ServerClose : null);
        exchange.Registration.Dispose();
        var responseContent = new ResponseContent(destination, connection, _options.ResponseTimeout, closeAfter);
        var response = ResponseHead.Build(request, head, responseContent);
        responseContent.TryEndIfComplete();
        return new Attempt(response, null, exchange.Reused, exchange.BodyStarted);
    }

    // The exchange failed after its connection was leased: the connection is closed; an UpstreamException is returned
    // as the attempt's error for the caller to decide about, anything else (and any failure once canceled) is thrown.
    private static Attempt Http1AttemptFailed(DestinationState destination, in Http1Exchange exchange, Exception ex, CancellationToken cancellationToken)
    {
        exchange.Registration.Dispose();
        var upstream = ex as UpstreamException;
        destination.Pool.Release(exchange.Connection!, upstream?.Kind == UpstreamErrorKind.InvalidResponse ? ConnectionCloseReason.InvalidResponse : ConnectionCloseReason.Error);
        if (cancellationToken.IsCancellationRequested && ex is not OperationCanceledException)
        {
            throw new OperationCanceledException("The request was canceled.", ex, cancellationToken);
        }

        if (upstream is null)
        {
            ExceptionDispatchInfo.Throw(ex);
        }

        return new Attempt(null, upstream, exchange.Reused, exchange.BodyStarted);
    }

    // An HTTP/1.1 exchange started on a leased connection, or the attempt's error (Error set, the connection given back).
    // Kept small: it lives in SendToHostAsync's state machine, which is allocated once a request (twice over, as the
    // exchange and inside its awaiter).
    private readonly record struct Http1Exchange(
        Http1Connection? Connection, bool Reused, bool BodyStarted, ConnectionCloseReason? CloseAfter, CancellationTokenRegistration Registration, UpstreamException? Error)
    {
        public static Http1Exchange Failure(UpstreamException error) => new(null, false, false, null, default, error);
    }

    // UseHttp1: not an attempt but the HTTP/2 path's answer that this address speaks HTTP/1.1 (OverHttp1).
    private readonly record struct Attempt(HttpResponseMessage? Response, UpstreamException? Error, bool Reused, bool BodyStarted, bool UseHttp1 = false)
    {
        public static Attempt OverHttp1 => new(null, null, false, false, UseHttp1: true);
    }
}
