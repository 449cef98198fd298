namespace Tether.Configuration.Tests;

public class AddressParserTests
{
    [Theory]
    [InlineData("127.0.0.1:8080", "127.0.0.1", 8080)]
    [InlineData("[::1]:8080", "::1", 8080)]
    [InlineData("0.0.0.0:80", "0.0.0.0", 80)]
    [InlineData("*:8080", "*", 8080)]
    [InlineData("localhost:8080", "localhost", 8080)]
    [InlineData("127.0.0.1:0", "127.0.0.1", 0)]
    public void TryParseHostPort_accepts_listener_forms(string text, string host, int port)
    {
        Assert.True(AddressParser.TryParseHostPort(text, out var parsedHost, out var parsedPort));
        Assert.Equal(host, parsedHost);
        Assert.Equal(port, parsedPort);
    }

    [Theory]
    [InlineData("")]
    [InlineData("8080")]
    [InlineData("localhost")]
    [InlineData("::1:8080")]
    [InlineData("[::1]")]
    [InlineData("[nothex]:80")]
    [InlineData("127.0.0.1:65536")]
    [InlineData("127.0.0.1:-1")]
    [InlineData("127.0.0.1:http")]
    [InlineData("my host:80")]
    public void TryParseHostPort_rejects(string text)
    {
        Assert.False(AddressParser.TryParseHostPort(text, out _, out _));
    }

    [Theory]
    [InlineData("127.0.0.1:9001", "127.0.0.1", 9001)]
    [InlineData("http://backend:8080", "backend", 8080)]
    [InlineData("http://backend", "backend", 80)]
    [InlineData("http://backend/", "backend", 80)]
    [InlineData("HTTP://backend:81", "backend", 81)]
    [InlineData("[::1]:9001", "::1", 9001)]
    [InlineData("http://[::1]", "::1", 80)]
    [InlineData("localhost:9001", "localhost", 9001)]
    public void TryParseDestination_accepts_string_forms(string text, string host, int port)
    {
        Assert.True(AddressParser.TryParseDestination(text, 3, out var destination, out var error), error);
        Assert.Equal(text, destination.Address);
        Assert.Equal(host, destination.Host);
        Assert.Equal(port, destination.Port);
        Assert.Equal(3, destination.Weight);
        Assert.False(destination.UseTls);
    }

    [Theory]
    [InlineData("https://backend:8443", "backend", 8443, "backend:8443")]
    [InlineData("https://backend", "backend", 443, "backend:443")]
    [InlineData("https://backend/", "backend", 443, "backend:443")]
    [InlineData("HTTPS://backend:80", "backend", 80, "backend:80")]
    [InlineData("https://10.0.0.5", "10.0.0.5", 443, "10.0.0.5:443")]
    [InlineData("https://[::1]", "::1", 443, "[::1]:443")]
    [InlineData("https://[2001:db8::5]:8443/", "2001:db8::5", 8443, "[2001:db8::5]:8443")]
    public void TryParseDestination_reads_https_as_tls_with_default_port_443(string text, string host, int port, string name)
    {
        Assert.True(AddressParser.TryParseDestination(text, 2, out var destination, out var error), error);
        Assert.True(destination.UseTls);
        Assert.Equal((text, host, port, 2), (destination.Address, destination.Host, destination.Port, destination.Weight));
        Assert.Equal(name, destination.Name);
    }

    [Theory]
    [InlineData("http://backend:8080/api", "remove the path \"/api\"")]
    [InlineData("https://backend/api", "remove the path \"/api\"")]
    [InlineData("https://backend:99999", "use a number from 1 to 65535")]
    [InlineData("https://[::1:443", "an IPv6 address is written with brackets")]
    [InlineData("https://*", "cannot be a destination")]
    [InlineData("https://", "is not a host name or IP address")]
    [InlineData("ftp://backend:21", "use \"http://host:port\", \"https://host:port\", \"srv://_http._tcp.name\" or \"host:port\"")]
    [InlineData("127.0.0.1:9001/x", "remove the path \"/x\"")]
    [InlineData("ftp://backend:21", "scheme \"ftp\" is not supported")]
    [InlineData("backend", "add a port")]
    [InlineData("*:9001", "cannot be a destination")]
    [InlineData("127.0.0.1:0", "port 0 cannot be a destination")]
    [InlineData("", "write one such as \"127.0.0.1:9001\"")]
    public void TryParseDestination_says_what_is_wrong(string text, string expected)
    {
        Assert.False(AddressParser.TryParseDestination(text, 1, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Destination_name_brackets_IPv6()
    {
        Assert.True(AddressParser.TryParseDestination("[::1]:9001", 1, out var destination, out _));
        Assert.Equal("[::1]:9001", destination.Name);
    }

    [Fact]
    public void An_srv_destination_is_a_name_without_a_port()
    {
        Assert.True(AddressParser.TryParseDestination("srv://_http._tcp.api.internal", 1, out var destination, out var error), error);
        Assert.True(destination.Srv);
        Assert.Equal("_http._tcp.api.internal", destination.Host);
        Assert.Equal(0, destination.Port);
        Assert.Equal("srv://_http._tcp.api.internal", destination.Name);

        Assert.False(AddressParser.TryParseDestination("srv://_http._tcp.api.internal:80", 1, out _, out error));
        Assert.Contains("no port", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10.0.0.2", "10.0.0.2:53")]
    [InlineData("127.0.0.1:5353", "127.0.0.1:5353")]
    [InlineData("::1", "[::1]:53")]
    [InlineData("[::1]:5353", "[::1]:5353")]
    public void A_dns_server_is_an_ip_with_an_optional_port(string text, string expected)
    {
        Assert.True(AddressParser.TryParseDnsServer(text, out var server));
        Assert.Equal(expected, server.ToString());
    }

    [Theory]
    [InlineData("dns.internal:53")]
    [InlineData("127.0.0.1:0")]
    [InlineData("")]
    public void A_dns_server_that_is_not_an_ip_is_refused(string text)
    {
        Assert.False(AddressParser.TryParseDnsServer(text, out _));
    }
}
