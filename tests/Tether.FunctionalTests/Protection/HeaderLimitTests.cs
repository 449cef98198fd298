namespace Tether.FunctionalTests.Protection;

public class HeaderLimitTests
{
    [Fact]
    public async Task Request_line_over_maxRequestLineSize_gets_414()
    {
        await using var gateway = await ProtectionGateway.StartAsync(d => d with { MaxRequestLineSize = 256 });
        using var client = await gateway.ConnectAsync();
        var response = await ProtectionGateway.ExchangeAsync(client, $"GET /{new string('a', 300)} HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 414 ", response, StringComparison.Ordinal);
        Assert.Empty(gateway.Origin.Requests);
    }

    [Fact]
    public async Task Headers_over_maxRequestHeadersSize_get_431()
    {
        await using var gateway = await ProtectionGateway.StartAsync(d => d with { MaxRequestHeadersSize = 1024 });
        using var client = await gateway.ConnectAsync();
        var response = await ProtectionGateway.ExchangeAsync(client, $"GET / HTTP/1.1\r\nHost: x\r\nX-Big: {new string('a', 2000)}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 431 ", response, StringComparison.Ordinal);
        Assert.Empty(gateway.Origin.Requests);
    }

    [Fact]
    public async Task Headers_over_maxRequestHeaderCount_get_431_and_at_the_cap_pass()
    {
        await using var gateway = await ProtectionGateway.StartAsync(d => d with { MaxRequestHeaderCount = 10 });
        using var over = await gateway.ConnectAsync();
        var headers = string.Concat(Enumerable.Range(0, 10).Select(i => $"X-H{i}: v\r\n"));
        var response = await ProtectionGateway.ExchangeAsync(over, $"GET / HTTP/1.1\r\nHost: x\r\n{headers}\r\n");
        Assert.StartsWith("HTTP/1.1 431 ", response, StringComparison.Ordinal);

        using var at = await gateway.ConnectAsync();
        headers = string.Concat(Enumerable.Range(0, 9).Select(i => $"X-H{i}: v\r\n"));
        response = await ProtectionGateway.ExchangeAsync(at, $"GET / HTTP/1.1\r\nHost: x\r\n{headers}\r\n");
        Assert.StartsWith("HTTP/1.1 200 ", response, StringComparison.Ordinal);
        Assert.Single(gateway.Origin.Requests);
    }
}
