using System.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Tether.Server.Tests;

public sealed class KeepAliveTests
{
    [Fact]
    public async Task The_keep_alive_timer_is_set_above_the_front_proxys_and_advertised()
    {
        await using var backend = await TestBackend.StartAsync(o => { o.FrontProxyIdleTimeout = TimeSpan.FromSeconds(1); o.Margin = TimeSpan.FromSeconds(1); });
        var kestrel = backend.App.Services.GetRequiredService<IOptions<KestrelServerOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(2), kestrel.Limits.KeepAliveTimeout);

        using var connection = await backend.ConnectAsync();
        var response = await connection.GetAsync();
        Assert.Equal("hello", response.Body);
        Assert.Equal("timeout=2, max=999", response.Headers["Keep-Alive"]);

        // Kestrel closes the idle connection at its timer (its heartbeat ticks each second), never before the proxy's 1 s.
        var idle = Stopwatch.StartNew();
        Assert.True(await connection.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
        Assert.True(idle.Elapsed > TimeSpan.FromSeconds(1.5), $"closed after {idle.Elapsed.TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task The_last_request_of_a_connection_says_close_and_Kestrel_closes_it()
    {
        await using var backend = await TestBackend.StartAsync(o => o.MaxRequestsPerConnection = 3);
        using var connection = await backend.ConnectAsync();
        Assert.Equal("timeout=130, max=2", (await connection.GetAsync()).Headers["Keep-Alive"]);
        Assert.Equal("timeout=130, max=1", (await connection.GetAsync()).Headers["Keep-Alive"]);
        var last = await connection.GetAsync();
        Assert.Equal("hello", last.Body);
        Assert.Equal("close", last.Headers["Connection"]);
        Assert.False(last.Headers.ContainsKey("Keep-Alive"));
        Assert.True(await connection.WaitForCloseAsync(TimeSpan.FromSeconds(5)));

        // A new connection starts a new count.
        using var next = await backend.ConnectAsync();
        Assert.Equal("timeout=130, max=2", (await next.GetAsync()).Headers["Keep-Alive"]);
    }

    [Fact]
    public async Task On_SIGTERM_in_flight_and_new_requests_on_kept_alive_connections_are_answered_with_close()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slowStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await TestBackend.StartAsync(
            o => o.DrainDelay = TimeSpan.FromSeconds(8), // long enough for a loaded machine to send the late request within it
            app =>
            {
                app.MapGet("/", () => "hello");
                app.MapGet("/slow", async () =>
                {
                    slowStarted.TrySetResult();
                    await release.Task;
                    return "slow";
                });
            });
        using var kept = await backend.ConnectAsync();
        using var busy = await backend.ConnectAsync();
        Assert.False((await kept.GetAsync()).Headers.ContainsKey("Connection"));
        await busy.SendAsync("/slow");
        await slowStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var lifetime = backend.App.Services.GetRequiredService<IHostApplicationLifetime>();
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lifetime.ApplicationStopping.Register(() => stopping.TrySetResult());
        // A host stopped by StopAsync (not SIGTERM) fires ApplicationStopping only after its services' StoppingAsync,
        // that is after the drain delay; the drain fires it when it starts, so it comes well within the 8 s.
        var stop = backend.App.StopAsync();
        await stopping.Task.WaitAsync(TimeSpan.FromSeconds(4));

        // During the drain delay Kestrel still answers: each answer says close, and the connection closes after it.
        var late = await kept.GetAsync();
        Assert.Equal("hello", late.Body);
        Assert.Equal("close", late.Headers["Connection"]);
        Assert.True(await kept.WaitForCloseAsync(TimeSpan.FromSeconds(5)));

        // And it still accepts: a proxy's new connection gets its answer (with close) rather than a refusal.
        using var fresh = await backend.ConnectAsync();
        var answered = await fresh.GetAsync();
        Assert.Equal("hello", answered.Body);
        Assert.Equal("close", answered.Headers["Connection"]);
        Assert.False(stop.IsCompleted);

        release.SetResult();
        var slow = await busy.ReadResponseAsync();
        Assert.Equal("slow", slow.Body);
        Assert.Equal("close", slow.Headers["Connection"]);
        await stop.WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task The_shutdown_timeout_covers_the_drain_delay_and_the_drain_timeout()
    {
        await using var backend = await TestBackend.StartAsync(o => { o.DrainDelay = TimeSpan.FromSeconds(2); o.DrainTimeout = TimeSpan.FromSeconds(7); });
        Assert.Equal(TimeSpan.FromSeconds(9), backend.App.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);
    }

    [Fact]
    public async Task Invalid_options_stop_the_start_naming_each()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => TestBackend.StartAsync(o =>
        {
            o.FrontProxyIdleTimeout = TimeSpan.FromSeconds(60);
            o.KeepAliveTimeout = TimeSpan.FromSeconds(30);
            o.MaxRequestsPerConnection = -1;
        }));
        Assert.Contains("KeepAliveTimeout: 30 s is not above FrontProxyIdleTimeout 60 s", error.Message, StringComparison.Ordinal);
        Assert.Contains("MaxRequestsPerConnection: must be 0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_front_proxys_idle_timeout_is_read_from_a_Tether_admin_status()
    {
        // A stand-in for Tether's admin listener: /status in the shape Tether writes (clusters.<name>.idleTimeoutSeconds).
        var admin = WebApplication.CreateSlimBuilder();
        admin.WebHost.UseUrls("http://127.0.0.1:0");
        await using var adminApp = admin.Build();
        adminApp.MapGet("/status", () => Results.Text("""{"clusters":{"web":{"idleTimeoutSeconds":4},"api":{"idleTimeoutSeconds":60}}}""", "application/json"));
        await adminApp.StartAsync();
        var adminUrl = new Uri(adminApp.Urls.First());

        var plan = new KeepAlivePlan(new TetherKeepAliveOptions { TetherAdminUrl = adminUrl, TetherCluster = "web" }, NullLogger.Instance);
        Assert.Equal(TimeSpan.FromSeconds(4), plan.FrontProxyIdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(9), plan.KeepAliveTimeout);
        var any = new KeepAlivePlan(new TetherKeepAliveOptions { TetherAdminUrl = adminUrl }, NullLogger.Instance);
        Assert.Equal(TimeSpan.FromSeconds(65), any.KeepAliveTimeout);
        var missing = new KeepAlivePlan(new TetherKeepAliveOptions { TetherAdminUrl = adminUrl, TetherCluster = "nope" }, NullLogger.Instance);
        Assert.Equal(KeepAlivePlan.KestrelDefault, missing.KeepAliveTimeout);
    }
}
