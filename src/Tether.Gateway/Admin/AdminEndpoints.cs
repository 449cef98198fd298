using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Tether.Gateway.Admin;

/// <summary>The admin listener: /status (JSON), /metrics (Prometheus text), /healthz, /readyz, POST /drain, POST /reload.</summary>
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
        admin.MapGet("/", () => Results.Text("Tether admin: GET /status, /metrics, /healthz, /readyz; POST /drain, /reload\n"));
    }
}
