using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;

namespace Tether.Server;

/// <summary>
/// Per response on HTTP/1.x: <c>Connection: close</c> on the connection's last request (MaxRequestsPerConnection) or
/// once the application is stopping; otherwise <c>Keep-Alive: timeout=N[, max=M]</c>. Decided when the response starts,
/// so a request in flight when SIGTERM arrives is answered with close too. HTTP/2 connections are asked to close
/// (GOAWAY) once stopping. The count lives in the connection's items (IConnectionItemsFeature), one object a connection.
/// </summary>
internal sealed class KeepAliveMiddleware(RequestDelegate next, KeepAlivePlan plan, IHostApplicationLifetime lifetime)
{
    private static readonly object s_stateKey = new();
    private KeepAlivePlan Plan { get; } = plan;

    private IHostApplicationLifetime Lifetime { get; } = lifetime;

    private static readonly Func<object, Task> s_onStarting = static s => ((ConnectionState)s).OnResponseStarting();

    public Task InvokeAsync(HttpContext context)
    {
        var protocol = context.Request.Protocol;
        if (!HttpProtocol.IsHttp11(protocol) && !HttpProtocol.IsHttp10(protocol))
        {
            if (Lifetime.ApplicationStopping.IsCancellationRequested)
            {
                context.Features.Get<IConnectionLifetimeNotificationFeature>()?.RequestClose();
            }

            return next(context);
        }

        // HTTP/1.x requests on one connection come one at a time, so one state object serves them all in turn.
        ConnectionState state;
        var items = context.Features.Get<IConnectionItemsFeature>()?.Items;
        if (items is not null && items.TryGetValue(s_stateKey, out var existing))
        {
            state = (ConnectionState)existing!;
        }
        else
        {
            state = new ConnectionState(this);
            if (items is not null)
            {
                items[s_stateKey] = state;
            }
        }

        state.Requests++;
        state.Current = context;
        context.Response.OnStarting(s_onStarting, state);
        return next(context);
    }

    private sealed class ConnectionState(KeepAliveMiddleware owner)
    {
        public int Requests;
        public HttpContext? Current;

        public Task OnResponseStarting()
        {
            var context = Current!;
            Current = null;
            var headers = context.Response.Headers;
            if (headers.Connection.Count > 0)
            {
                return Task.CompletedTask; // the application decided
            }

            var max = owner.Plan.Options.MaxRequestsPerConnection;
            if ((max > 0 && Requests >= max) || owner.Lifetime.ApplicationStopping.IsCancellationRequested)
            {
                // Kestrel closes the connection after a response that says so.
                headers.Connection = "close";
            }
            else if (owner.Plan.Options.AdvertiseKeepAlive)
            {
                headers.KeepAlive = owner.Plan.HeaderValue(max > 0 ? max - Requests : 0);
            }

            return Task.CompletedTask;
        }
    }
}
