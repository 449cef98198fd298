using System.Collections.Concurrent;
using Tether.Doctor.Http;

namespace Tether.Doctor.Endpoint;

/// <summary>
/// Measures how long the server keeps an idle HTTP/1.1 connection. Several connections each send one request,
/// then sit idle with a pending read (a FIN completes it) until their hold time; a connection that reaches its
/// hold sends a second request (success = still alive; failure without a FIN = dropped silently) and watches
/// again. Starts are staggered so a server whose timers tick on a heartbeat is caught at different phases.
/// When idle connections die without a FIN, later rounds narrow the interval within the budget.
/// </summary>
public sealed class IdleTimeoutProbe(TimeProvider timeProvider)
{
    // Ten starts 100 ms apart: a server that checks its timers on a 1 s heartbeat (Kestrel) closes each
    // connection somewhere in a window after its timeout, and more phases sampled give an earliest close
    // nearer the window's start and a tighter uncertainty (six left Kestrel at +-0.5 s on a loaded machine).
    private const int ConnectionsPerRound = 10;
    private const int MaxRounds = 4;

    /// <summary>Starts are this far apart, so the connections cover about one second of timer phase.</summary>
    private static readonly TimeSpan Stagger = TimeSpan.FromMilliseconds(100);

    /// <summary>After the first FIN, how long the others get to show theirs: the stagger span plus a 1 s
    /// heartbeat, with slack.</summary>
    private static readonly TimeSpan GraceAfterFirstClose = TimeSpan.FromSeconds(2.5);

    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    /// <param name="budget">Wall time the probe may take; a longer server timeout is reported as "longer than the budget".</param>
    /// <param name="roundTrip">The measured round trip, which bounds how precisely a FIN can be timed.</param>
    public async Task<IdleTimeoutEstimate> MeasureAsync(
        ProbeTarget target, ConnectOptions options, TimeSpan budget, TimeSpan roundTrip, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        var started = timeProvider.GetTimestamp();
        var observations = new ConcurrentBag<IdleObservation>();
        var rounds = 0;
        var holds = IdleTimeoutEstimator.InitialHolds(budget, ConnectionsPerRound);
        var roundLength = budget;
        while (true)
        {
            rounds++;
            await RunRoundAsync(target, options, holds, roundLength, rounds == 1 ? Stagger : TimeSpan.Zero, observations, cancellationToken)
                .ConfigureAwait(false);
            var snapshot = observations.ToArray();
            var estimate = IdleTimeoutEstimator.Estimate(snapshot, roundTrip);
            var remaining = budget - timeProvider.GetElapsedTime(started);
            if (estimate.Kind != IdleTimeoutKind.Bracketed || rounds == MaxRounds
                || estimate.UpperBound is not { } upper || upper - estimate.LowerBound <= IdleTimeoutEstimator.Tolerance
                || remaining < upper + TimeSpan.FromSeconds(1))
            {
                return estimate with { Rounds = rounds, Elapsed = timeProvider.GetElapsedTime(started) };
            }

            holds = IdleTimeoutEstimator.NarrowingHolds(estimate.LowerBound, upper, ConnectionsPerRound);
            roundLength = upper + TimeSpan.FromSeconds(1);
        }
    }

    private async Task RunRoundAsync(
        ProbeTarget target, ConnectOptions options, IReadOnlyList<TimeSpan> holds, TimeSpan roundLength, TimeSpan stagger,
        ConcurrentBag<IdleObservation> observations, CancellationToken cancellationToken)
    {
        using var roundEnd = new CancellationTokenSource(roundLength, timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(roundEnd.Token, cancellationToken);
        var firstClose = 0;
        void OnClose()
        {
            // Once one FIN is in, the others are due soon; don't sit out the whole budget.
            if (Interlocked.Exchange(ref firstClose, 1) == 0)
            {
                roundEnd.CancelAfter(GraceAfterFirstClose);
            }
        }

        var tasks = new Task[holds.Count];
        for (var i = 0; i < holds.Count; i++)
        {
            tasks[i] = WatchOneAsync(target, options, stagger * i, holds[i], observations, OnClose, linked.Token, cancellationToken);
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
    }

    private async Task WatchOneAsync(
        ProbeTarget target, ConnectOptions options, TimeSpan startDelay, TimeSpan hold, ConcurrentBag<IdleObservation> observations,
        Action onClose, CancellationToken roundToken, CancellationToken cancellationToken)
    {
        try
        {
            if (startDelay > TimeSpan.Zero)
            {
                await Task.Delay(startDelay, timeProvider, roundToken).ConfigureAwait(false);
            }

            await using var connection = await ProbeConnection.OpenAsync(target, options, timeProvider, roundToken).ConfigureAwait(false);
            if ((await SendAsync(connection, cancellationToken).ConfigureAwait(false)).ServerWillClose)
            {
                observations.Add(new(IdleOutcome.NotKeptAlive, TimeSpan.Zero));
                return;
            }

            var watchUntil = hold;
            while (true)
            {
                if (await connection.WatchIdleAsync(watchUntil, roundToken).ConfigureAwait(false) is { } closedAt)
                {
                    observations.Add(new(IdleOutcome.ClosedAt, closedAt));
                    onClose();
                    return;
                }

                var idleAge = connection.IdleAge;
                if (roundToken.IsCancellationRequested)
                {
                    observations.Add(new(IdleOutcome.AliveAt, idleAge));
                    return;
                }

                try
                {
                    var response = await SendAsync(connection, cancellationToken).ConfigureAwait(false);
                    observations.Add(new(IdleOutcome.AliveAt, idleAge));
                    if (response.ServerWillClose)
                    {
                        return;
                    }
                }
                catch (ConnectionClosedException)
                {
                    observations.Add(new(IdleOutcome.DeadAt, idleAge));
                    return;
                }

                // Reused fine: from now on just watch for the FIN until the round ends.
                watchUntil = TimeSpan.MaxValue / 2;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The round ended before this connection got going; it has nothing to say.
        }
        catch (Exception exception) when (exception is IOException or System.Net.Sockets.SocketException or InvalidDataException
            or System.Security.Authentication.AuthenticationException)
        {
            // A connection that cannot be opened or read adds no observation; the estimate says Failed if none can.
        }
    }

    private static async Task<ProbeResponse> SendAsync(ProbeConnection connection, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestTimeout);
        return await connection.SendAsync("GET", timeout.Token).ConfigureAwait(false);
    }
}
