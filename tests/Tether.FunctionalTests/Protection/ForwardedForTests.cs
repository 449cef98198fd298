namespace Tether.FunctionalTests.Protection;

public class ForwardedForTests
{
    private const string Request = "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-For: 198.51.100.4\r\n\r\n";

    [Fact]
    public async Task A_clients_X_Forwarded_For_is_replaced_unless_the_peer_is_a_trusted_proxy()
    {
        await using var gateway = await ProtectionGateway.StartAsync(d => d with { TrustedProxies = ["127.0.0.2/32"] });

        await SendFromUntrustedThenTrustedAsync(gateway, Request);

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

    private const string WithForwarded = "GET / HTTP/1.1\r\nHost: app.example\r\nForwarded: for=203.0.113.9;proto=https\r\n\r\n";

    [Fact]
    public async Task A_clients_Forwarded_header_is_dropped_unless_the_peer_is_a_trusted_proxy()
    {
        await using var gateway = await ProtectionGateway.StartAsync(d => d with { TrustedProxies = ["127.0.0.2/32"] });

        await SendFromUntrustedThenTrustedAsync(gateway, WithForwarded);

        Assert.Null(gateway.Origin.Header(0, "Forwarded"));
        Assert.Equal("for=203.0.113.9;proto=https", gateway.Origin.Header(1, "Forwarded"));
    }

    [Fact]
    public async Task With_addForwarded_the_header_is_replaced_or_appended_to_like_X_Forwarded_For()
    {
        await using var gateway = await ProtectionGateway.StartAsync(d => d with { TrustedProxies = ["127.0.0.2/32"], AddForwarded = true });

        await SendFromUntrustedThenTrustedAsync(gateway, WithForwarded);

        Assert.Equal("for=127.0.0.1;proto=http;host=\"app.example\"", gateway.Origin.Header(0, "Forwarded"));
        Assert.Equal("for=203.0.113.9;proto=https, for=127.0.0.2;proto=http;host=\"app.example\"", gateway.Origin.Header(1, "Forwarded"));
        Assert.Single(gateway.Origin.Requests.First().Split("\r\n"), line => line.StartsWith("Forwarded:", StringComparison.OrdinalIgnoreCase));
    }

    // The request once from 127.0.0.1 (not trusted), then once from 127.0.0.2 (the trusted proxy), each answered 200.
    private static async Task SendFromUntrustedThenTrustedAsync(ProtectionGateway gateway, string request)
    {
        foreach (var from in (string[])["127.0.0.1", "127.0.0.2"])
        {
            using var client = await gateway.ConnectAsync(from);
            Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(client, request), StringComparison.Ordinal);
        }
    }
}
