using System.Net;
using Tether.Configuration;
using Tether.Gateway.Protection;

namespace Tether.Gateway.Tests.Protection;

public class NetworkListTests
{
    [Theory]
    [InlineData("10.0.0.0/8", "10.255.1.2", true)]
    [InlineData("10.0.0.0/8", "11.0.0.1", false)]
    [InlineData("192.0.2.10", "192.0.2.10", true)]
    [InlineData("192.0.2.10", "192.0.2.11", false)]
    [InlineData("10.0.0.0/8", "::ffff:10.1.2.3", true)] // IPv4 client on a dual-stack listener
    [InlineData("2001:db8::/32", "2001:db8:1::5", true)]
    [InlineData("2001:db8::/32", "2001:db9::5", false)]
    [InlineData("0.0.0.0/0", "203.0.113.7", true)]
    [InlineData("0.0.0.0/0", "2001:db8::1", false)]
    [InlineData("::/0", "2001:db8::1", true)]
    public void Contains(string cidr, string address, bool expected) =>
        Assert.Equal(expected, new NetworkList([cidr]).Contains(IPAddress.Parse(address)));

    [Fact]
    public void Empty_list_contains_nothing()
    {
        var list = new NetworkList([]);
        Assert.True(list.IsEmpty);
        Assert.False(list.Contains(IPAddress.Loopback));
        Assert.False(list.Contains(null));
    }

    [Theory]
    [InlineData("10.1.2.3/8", "10.0.0.0/8")]
    [InlineData("10.0.0.0/33", "from 0 to 32")]
    [InlineData("2001:db8::/129", "from 0 to 128")]
    [InlineData("10.0.0/8", "not an IP address")]
    [InlineData("example.com", "not an IP address")]
    [InlineData("10.0.0.0/x", "from 0 to 32")]
    public void Bad_cidrs_say_what_to_write(string text, string fix)
    {
        Assert.False(CidrParser.TryParse(text, out _, out var error));
        Assert.Contains(fix, error, StringComparison.Ordinal);
    }
}
