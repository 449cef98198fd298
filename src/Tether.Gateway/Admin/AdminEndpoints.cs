using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Tether.Gateway.Admin;

/// <summary>The admin listener: /status (JSON), /metrics (Prometheus text), /healthz.</summary>
internal static class AdminEndpoints
{
    public static void Map(WebApplication admin, TetherGateway gateway)
    {
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
        admin.MapGet("/", () => Results.Text("Tether admin: GET /status, /metrics, /healthz\n"));
    }
}
