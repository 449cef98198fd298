namespace Tether.FunctionalTests.Protection;

public class ForwardedForTests
{
    private const string Request = "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-For: 198.51.100.4\r\n\r\n";

    [Fact]
    public async Task A_clients_X_Forwarded_For_is_replaced_unless_the_peer_is_a_trusted_proxy()
    {
        await using var gateway = await ProtectionGateway.StartAsync(d => d with { TrustedProxies = ["127.0.0.2/32"] });

        using (var untrusted = await gateway.ConnectAsync("127.0.0.1"))
        {
            Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(untrusted, Request), StringComparison.Ordinal);
        }

        using (var trusted = await gateway.ConnectAsync("127.0.0.2"))
        {
            Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(trusted, Request), StringComparison.Ordinal);
        }

        Assert.Equal("127.0.0.1", gateway.Origin.Header(0, "X-Forwarded-For"));
        Assert.Equal("203.0.113.9, 198.51.100.4, 127.0.0.2", gateway.Origin.Header(1, "X-Forwarded-For"));
    }

    [Fact]
    public async Task Without_trusted_proxies_every_X_Forwarded_For_is_replaced()
    {
        await using var gateway = await ProtectionGateway.StartAsync();
        using var client = await gateway.ConnectAsync("127.0.0.2");
        Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(client, Request), StringComparison.Ordinal);
        Assert.Equal("127.0.0.2", gateway.Origin.Header(0, "X-Forwarded-For"));
        Assert.Single(gateway.Origin.Requests);
    }
}
