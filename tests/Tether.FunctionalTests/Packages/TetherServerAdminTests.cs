using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Packages;

/// <summary>Tether.Server reads the idle timeout a real gateway uses for its cluster from the gateway's /status.</summary>
public sealed class TetherServerAdminTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_Kestrel_backend_keeps_idle_connections_longer_than_the_gateway_that_fronts_it()
    {
        await using var origin = RawOrigin.Ok();
        await using var gateway = await TestGateway.StartAsync(
            origin.Address, cluster: c => c with { Pool = c.Pool with { IdleTimeout = TimeSpan.FromSeconds(42) } }, output: output);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.UseTetherKeepAlive(o =>
        {
            o.TetherAdminUrl = gateway.AdminUrl;
            o.TetherCluster = "app";
        });
        await using var backend = builder.Build();
        backend.MapGet("/", () => "hello");
        await backend.StartAsync();

        var limits = backend.Services.GetRequiredService<IOptions<KestrelServerOptions>>().Value.Limits;
        Assert.Equal(TimeSpan.FromSeconds(47), limits.KeepAliveTimeout); // 42 s + the 5 s margin
        using var http = new HttpClient();
        using var response = await http.GetAsync(backend.Urls.First());
        Assert.Equal("timeout=47, max=999", string.Join(",", response.Headers.GetValues("Keep-Alive")));
        await backend.StopAsync();
    }
}
