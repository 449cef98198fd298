using Tether.Configuration;
using Tether.Testing;

namespace Tether.FunctionalTests.Protection;

/// <summary>routes[].rateLimit: 429 with Retry-After per client, other clients unaffected; time moved by hand.</summary>
public class RateLimitTests
{
    private static readonly RateLimitConfig s_limit = new() { RequestsPerSecond = 1, Burst = 2 };

    [Fact]
    public async Task A_client_over_its_burst_gets_429_with_Retry_After_and_another_address_is_unaffected()
    {
        var clock = new ManualTimeProvider();
        await using var gateway = await ProtectionGateway.StartAsync(routes: r => [r with { RateLimit = s_limit }], timeProvider: clock);
        using var first = await gateway.ConnectAsync("127.0.0.1");
        using var second = await gateway.ConnectAsync("127.0.0.2");
        const string Get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

        Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(first, Get), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(first, Get), StringComparison.Ordinal);
        var limited = await ProtectionGateway.ExchangeAsync(first, Get);
        Assert.StartsWith("HTTP/1.1 429 ", limited, StringComparison.Ordinal);
        Assert.Contains("\r\nRetry-After: 1\r\n", limited, StringComparison.Ordinal);
        Assert.Contains("request id: ", limited, StringComparison.Ordinal);

        Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(second, Get), StringComparison.Ordinal);
        Assert.Equal(3, gateway.Origin.Requests.Count);

        // One token a second: after a second the first client may make one more request, and only one.
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(first, Get), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 429 ", await ProtectionGateway.ExchangeAsync(first, Get), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Behind_a_trusted_proxy_the_key_is_the_client_its_X_Forwarded_For_names()
    {
        var clock = new ManualTimeProvider();
        await using var gateway = await ProtectionGateway.StartAsync(
            d => d with { TrustedProxies = ["127.0.0.2/32"] },
            routes: r => [r with { RateLimit = s_limit with { Burst = 1, Status = 503 } }],
            timeProvider: clock);
        using var proxy = await gateway.ConnectAsync("127.0.0.2");
        static string From(string client) => $"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.9.9.9, {client}\r\n\r\n";

        Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(proxy, From("203.0.113.5")), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 503 ", await ProtectionGateway.ExchangeAsync(proxy, From("203.0.113.5")), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(proxy, From("203.0.113.6")), StringComparison.Ordinal);

        // An untrusted peer's X-Forwarded-For is no key: it is limited by its own address whatever it claims.
        using var untrusted = await gateway.ConnectAsync("127.0.0.3");
        Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(untrusted, From("198.51.100.1")), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 503 ", await ProtectionGateway.ExchangeAsync(untrusted, From("198.51.100.2")), StringComparison.Ordinal);
    }
}
