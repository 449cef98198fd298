using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Tether.Upstream;
using Tether.Upstream.Destinations;
using Tether.Upstream.Http1;
using Tether.Upstream.Pooling;

namespace Tether.Gateway.Forwarding;

/// <summary>
/// Proxies one request to one cluster over the pool (YARP's HttpForwarder shape: numbered phases, one typed
/// error, one choke point in <see cref="ForwarderErrors"/>).
/// </summary>
internal sealed partial class Forwarder(ForwarderErrors errors, ILogger<Forwarder> logger)
{
    public async Task ForwardAsync(HttpContext context, ClusterState cluster)
    {
        var destination = cluster.Pick();
        if (destination is null)
        {
            await errors.NoDestinationAsync(context, cluster).ConfigureAwait(false);
            return;
        }

        destination.OnRequestStarted();
        try
        {
            await ForwardToAsync(context, cluster, destination).ConfigureAwait(false);
        }
        finally
        {
            destination.OnRequestEnded();
        }
    }

    private async Task ForwardToAsync(HttpContext context, ClusterState cluster, DestinationState destination)
    {
        var request = context.Request;
        var requestWasHead = HttpMethods.IsHead(request.Method);
        var bodyMode = RequestHeadWriter.DecideBodyMode(request, out var contentLength);
        var upgradeFeature = context.Features.Get<IHttpUpgradeFeature>();
        var upgrade = upgradeFeature is { IsUpgradableRequest: true };
        var body = new RequestBodySender(context, bodyMode);
        var requireNew = false;

        while (true)
        {
            // 1. A connection: idle and probed, new, or after a wait at the destination's cap.
            PooledLease<Http1Connection> lease;
            try
            {
                lease = await destination.Pool.AcquireAsync(requireNew, context.RequestAborted).ConfigureAwait(false);
            }
            catch (PoolExhaustedException ex)
            {
                await errors.FailAsync(context, cluster, destination, new UpstreamException(UpstreamPhase.Queue, UpstreamErrorKind.NoCapacity, ex.Message, ex), reused: false).ConfigureAwait(false);
                return;
            }
            catch (UpstreamException ex)
            {
                await errors.FailAsync(context, cluster, destination, ex, reused: false).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                return;
            }

            var connection = lease.Connection;
            var released = false;
            var registration = context.RequestAborted.UnsafeRegister(static s => ((Http1Connection)s!).Abort(), connection);
            try
            {
                connection.BeginRequest();

                // 2. The request head, then 3. the body, if any.
                RequestHeadWriter.Write(connection.Output, context, bodyMode, contentLength, upgrade, destination.HostHeader);
                if (bodyMode == RequestBodyMode.None)
                {
                    await connection.FlushAsync(UpstreamPhase.SendRequest).ConfigureAwait(false);
                }
                else
                {
                    await body.SendAsync(connection).ConfigureAwait(false);
                }

                // 4. The response head.
                var head = await connection.ReadResponseHeadAsync(requestWasHead, cluster.ResponseTimeout).ConfigureAwait(false);
                connection.Lifetime.LearnServerKeepAlive(head.KeepAliveTimeout, head.KeepAliveMax);

                if (head.StatusCode == 101)
                {
                    await registration.DisposeAsync().ConfigureAwait(false);
                    released = true;
                    await TunnelAsync(context, upgradeFeature, destination, connection, head).ConfigureAwait(false);
                    return;
                }

                var response = context.Response;
                ResponseHeadCopier.Copy(head, response);

                // 5. The body. The connection goes back to the pool as soon as the last byte is read; Kestrel
                // flushes it to the client after we return.
                var clean = await connection.CopyBodyAsync(response.BodyWriter, cluster.ResponseTimeout, context.RequestAborted).ConfigureAwait(false);
                await registration.DisposeAsync().ConfigureAwait(false);
                var closeReason = !clean || head.ConnectionClose ? ConnectionCloseReason.ServerClose : connection.EndExchange();
                released = true;
                destination.Pool.Release(connection, closeReason);
                return;
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
                    return;
                }

                // Safe retry: the backend dropped a connection we reused before sending a single response byte
                // (it closed it at its idle timeout as we wrote). Once, on a fresh connection, and only if no
                // body byte has left the client: a request whose body went out is never replayed.
                if (lease.Reused && !requireNew && !ex.ResponseBytesReceived && !body.AnyBodyConsumed
                    && ex.Phase is UpstreamPhase.SendRequest or UpstreamPhase.ReadHeaders
                    && ex.Kind is UpstreamErrorKind.Closed or UpstreamErrorKind.Reset)
                {
                    Log.RetryingOnFreshConnection(logger, cluster.Name, destination.Name, ex.Phase, ex.Message, connection.Lifetime.RequestCount);
                    requireNew = true;
                    continue;
                }

                await errors.FailAsync(context, cluster, destination, ex, lease.Reused).ConfigureAwait(false);
                return;
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
        }
    }

    private static async Task TunnelAsync(HttpContext context, IHttpUpgradeFeature? upgradeFeature, DestinationState destination, Http1Connection connection, Http1ResponseHead head)
    {
        try
        {
            if (upgradeFeature is not { IsUpgradableRequest: true })
            {
                // The backend switched protocols the client never asked for: refuse rather than desync.
                throw new UpstreamException(UpstreamPhase.ReadHeaders, UpstreamErrorKind.InvalidResponse, "101 Switching Protocols to a request that did not ask to upgrade");
            }

            ResponseHeadCopier.Copy(head, context.Response);
            var client = await upgradeFeature.UpgradeAsync().ConfigureAwait(false);
            await connection.TunnelAsync(client, context.RequestAborted).ConfigureAwait(false);
        }
        finally
        {
            destination.Pool.Release(connection, ConnectionCloseReason.Upgraded);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1001, EventName = "UpstreamRetry", Level = LogLevel.Information,
            Message = "cluster={Cluster} destination={Destination} phase={Phase}: reused connection failed ({Cause}) after {Requests} request(s); retrying once on a fresh connection")]
        public static partial void RetryingOnFreshConnection(ILogger logger, string cluster, string destination, UpstreamPhase phase, string cause, int requests);
    }
}
