using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;
using Tether.Testing;

namespace Tether.FunctionalTests.Listeners;

/// <summary>The client side's keep-alive policy: nginx keepalive_requests and keepalive_time.</summary>
public sealed class DownstreamConnectionTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Downstream_maxRequestsPerConnection_3_closes_the_client_connection_after_the_third_response()
    {
        await using var origin = RawOrigin.Ok();
        await using var gateway = await TestGateway.StartAsync(origin.Address, downstream: d => d with { MaxRequestsPerConnection = 3 }, output: output);
        await using var client = await gateway.ConnectAsync();

        var first = await client.GetAsync();
        var second = await client.GetAsync();
        var third = await client.GetAsync();

        Assert.False(first.Head.HasToken("Connection", "close"));
        Assert.False(second.Head.HasToken("Connection", "close"));
        Assert.True(third.Head.HasToken("Connection", "close"), third.Head.Text);
        Assert.Equal("c1 r3", third.BodyText);
        Assert.True(await client.WaitForCloseAsync(TimeSpan.FromSeconds(5)), "Tether kept the client connection open past its cap");

        // The cap is on the client connection, not the upstream one: a new client reuses the pooled connection.
        await using var next = await gateway.ConnectAsync();
        Assert.Equal("c1 r4", (await next.GetAsync()).BodyText);
    }

    [Fact]
    public async Task Downstream_maxConnectionLifetime_closes_the_client_connection_once_it_is_reached()
    {
        var clock = new ManualTimeProvider();
        await using var origin = RawOrigin.Ok();
        await using var gateway = await TestGateway.StartAsync(origin.Address, downstream: d => d with { MaxConnectionLifetime = TimeSpan.FromMinutes(1) },
            timeProvider: clock, sweepInterval: TimeSpan.FromHours(1), output: output);
        await using var client = await gateway.ConnectAsync();

        // Not at the boundary: downstream.maxConnectionLifetimeJitter may take up to a tenth off each
        // connection's lifetime, never adds to it. So 50 s in it is open, at 60 s it is not.
        Assert.False((await client.GetAsync()).Head.Has("Connection"));
        clock.Advance(TimeSpan.FromSeconds(50));
        Assert.False((await client.GetAsync()).Head.Has("Connection"));
        clock.Advance(TimeSpan.FromSeconds(10));
        var last = await client.GetAsync();

        Assert.True(last.Head.HasToken("Connection", "close"), last.Head.Text);
        Assert.True(await client.WaitForCloseAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Downstream_advertiseKeepAlive_sends_the_timeout_in_seconds()
    {
        await using var origin = RawOrigin.Serve((_, connection) => connection.RespondAsync(200, "x", "Keep-Alive: timeout=3"));
        await using var gateway = await TestGateway.StartAsync(origin.Address,
            downstream: d => d with { AdvertiseKeepAlive = true, KeepAliveTimeout = TimeSpan.FromSeconds(42) }, output: output);
        await using var client = await gateway.ConnectAsync();

        var response = await client.GetAsync();

        Assert.Equal(["timeout=42"], response.Head.GetAll("Keep-Alive"));
    }
}
