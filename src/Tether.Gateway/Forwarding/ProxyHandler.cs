using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using Tether.Configuration;
using Tether.Gateway.Listeners;

namespace Tether.Gateway.Forwarding;

/// <summary>The request delegate of the proxy listeners: downstream keep-alive policy, route, forward.</summary>
internal sealed class ProxyHandler(
    Forwarder forwarder, Func<GatewayModel> model, DownstreamStatistics statistics, GatewayCounters counters, DownstreamConfig downstream, TimeProvider timeProvider)
{
    private readonly string? _keepAliveHeader = downstream.AdvertiseKeepAlive
        ? $"timeout={(int)Math.Max(1, downstream.KeepAliveTimeout.TotalSeconds)}"
        : null;

    public async Task HandleAsync(HttpContext context)
    {
        statistics.OnRequestStarted();
        try
        {
            if (Protection.RequestFraming.IsAmbiguous(context.Request))
            {
                await Protection.RequestFraming.RejectAsync(context).ConfigureAwait(false);
                return;
            }

            ApplyConnectionPolicy(context);
            var current = model();
            var request = context.Request;
            var cluster = current.Routes.Match(request.Host.Value, request.Path.Value ?? "/");
            if (cluster is null)
            {
                counters.OnNotFound();
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                context.Response.ContentType = "text/plain; charset=utf-8";
                await context.Response.WriteAsync("404 Not Found: no route matches this host and path\n").ConfigureAwait(false);
                return;
            }

            await forwarder.ForwardAsync(context, cluster).ConfigureAwait(false);
        }
        finally
        {
            statistics.OnRequestEnded();
        }
    }

    // nginx keepalive_requests / keepalive_time for HTTP/1.x: the response that reaches a cap says
    // "Connection: close", and Kestrel closes the connection after sending it.
    private void ApplyConnectionPolicy(HttpContext context)
    {
        if (!HttpProtocol.IsHttp11(context.Request.Protocol) && !HttpProtocol.IsHttp10(context.Request.Protocol))
        {
            return;
        }

        var connection = context.Features.Get<DownstreamConnection>();
        if (connection is null)
        {
            return;
        }

        var count = ++connection.RequestCount;
        var close = downstream.MaxRequestsPerConnection > 0 && count >= downstream.MaxRequestsPerConnection;
        if (!close && downstream.MaxConnectionLifetime is { } lifetime && timeProvider.GetElapsedTime(connection.StartTimestamp) >= lifetime)
        {
            close = true;
        }

        if (close)
        {
            context.Response.Headers.Connection = "close";
        }
        else if (_keepAliveHeader is not null)
        {
            context.Response.Headers[HeaderNames.KeepAlive] = _keepAliveHeader;
        }
    }
}
