using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Tether.Gateway.Observability;

namespace Tether.Gateway.Admin;

/// <summary>The admin listener: the dashboard at / (and its table view, /?view=table), /status (JSON), /metrics (Prometheus
/// text), /healthz, /readyz, POST /drain, POST /reload; behind admin.token when it is set.</summary>
internal static class AdminEndpoints
{
    public static void Map(WebApplication admin, TetherGateway gateway)
    {
        admin.Use((context, next) => RequireTokenAsync(context, next, gateway));
        admin.MapGet("/status", async context =>
        {
            context.Response.ContentType = "application/json";
            await StatusWriter.WriteJsonAsync(context.Response.Body, gateway, context.RequestAborted).ConfigureAwait(false);
        });
        admin.MapGet("/metrics", async context =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await context.Response.WriteAsync(PrometheusWriter.Write(gateway), context.RequestAborted).ConfigureAwait(false);
        });
        admin.MapGet("/healthz", () => Results.Text("ok\n"));

        // Readiness for a load balancer in front: 503 from the moment a drain starts, so it stops sending new
        // connections during drain.delay while the listeners still serve.
        admin.MapGet("/readyz", () => gateway.IsReady
            ? Results.Text("ready\n")
            : Results.Text("draining\n", statusCode: StatusCodes.Status503ServiceUnavailable));

        // Same as SIGTERM: the process exits once the drain is done. Answers at once; the drain runs on.
        admin.MapPost("/drain", () =>
        {
            _ = gateway.DrainAsync("POST /drain");
            return Results.Text("draining\n", statusCode: StatusCodes.Status202Accepted);
        });
        admin.MapPost("/reload", async context =>
        {
            var result = await gateway.ReloadAsync("POST /reload", context.RequestAborted).ConfigureAwait(false);
            context.Response.StatusCode = result.Ok ? StatusCodes.Status200OK : StatusCodes.Status422UnprocessableEntity;
            context.Response.ContentType = "application/json";
            await using var json = new Utf8JsonWriter(context.Response.Body, OperationsStatus.JsonOptions);
            OperationsStatus.WriteReload(json, result);
            await json.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        });
        admin.MapGet("/", async context =>
        {
            context.Response.Headers.CacheControl = "no-store";
            context.Response.ContentType = "text/html; charset=utf-8";
            var html = context.Request.Query["view"] == "table"
                ? DashboardTable.Render(TelemetrySnapshot.Take(gateway))
                : Dashboard.Page;
            await context.Response.WriteAsync(html, context.RequestAborted).ConfigureAwait(false);
        });
    }

    /// <summary>Whether <paramref name="url"/> (the admin's bound address) is reachable only from this host.</summary>
    public static bool IsLoopback(Uri url) =>
        url.IsLoopback || (IPAddress.TryParse(url.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));

    // admin.token: read per request, so a reload that sets, changes or removes it applies to the next request.
    // /healthz and /readyz stay open: liveness and readiness probes (a cloud load balancer's cannot send a header)
    // learn nothing from them but "up" and "draining". GET / also takes the token as ?token= (a browser opening the
    // dashboard cannot send a header; the page then keeps it in sessionStorage and sends it as a header).
    private static async Task RequireTokenAsync(HttpContext context, RequestDelegate next, TetherGateway gateway)
    {
        var token = gateway.Config.Admin.Token;
        var path = context.Request.Path.Value;
        if (token is null || path is "/healthz" or "/readyz" || Authorized(context, token))
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Bearer realm=\"tether-admin\"";
        if (path == "/" && HttpMethods.IsGet(context.Request.Method))
        {
            context.Response.ContentType = "text/html; charset=utf-8";
            await context.Response.WriteAsync(Dashboard.TokenPage, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync("401 Unauthorized: send \"Authorization: Bearer <admin.token>\"\n", context.RequestAborted).ConfigureAwait(false);
    }

    private static bool Authorized(HttpContext context, string token)
    {
        var presented = context.Request.Headers.Authorization.ToString();
        if (presented.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            presented = presented["Bearer ".Length..].Trim();
        }
        else if (context.Request.Path.Value == "/" && context.Request.Query["token"] is { Count: 1 } query)
        {
            presented = query.ToString();
        }
        else
        {
            return false;
        }

        // Constant time: how long the comparison takes says nothing about how much of the token was right.
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(token));
    }
}
