using System.Net;
using System.Net.Sockets;

namespace Tether.Client.Tests;

public sealed class AddressTests
{
    // 127.0.0.1 and 127.0.0.2 are both loopback on Linux: one port, two backends, one host name.
    private static (RawBackend First, RawBackend Second) TwoBackendsOnOnePort()
    {
        for (var attempt = 0; ; attempt++)
        {
            var first = new RawBackend(IPAddress.Loopback);
            try
            {
                return (first, new RawBackend(IPAddress.Parse("127.0.0.2"), first.Port));
            }
            catch (SocketException) when (attempt < 10)
            {
                first.DisposeAsync().AsTask().Wait();
            }
        }
    }

    [Fact]
    public async Task A_host_with_two_addresses_uses_both_and_follows_a_DNS_change()
    {
        var (first, second) = TwoBackendsOnOnePort();
        await using var a = first;
        await using var b = second;
        IPAddress[] answer = [IPAddress.Loopback, IPAddress.Parse("127.0.0.2")];
        var resolutions = 0;
        var handler = new TetherHttpHandler(new TetherClientOptions
        {
            ResolveHost = (host, _) =>
            {
                Assert.Equal("service.test", host);
                Interlocked.Increment(ref resolutions);
                return Task.FromResult(Volatile.Read(ref answer));
            },
            DnsRefreshInterval = TimeSpan.FromHours(1), // the test resolves again itself, below
        });
        using var client = new HttpClient(handler);
        var url = $"http://service.test:{a.Port}/";

        // Concurrent requests: least-connections spreads them over both addresses.
        for (var round = 0; round < 5; round++)
        {
            await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => client.GetStringAsync(url)));
        }

        Assert.True(a.RequestCount > 0, "127.0.0.1 got no request");
        Assert.True(b.RequestCount > 0, "127.0.0.2 got no request");
        Assert.Equal(40, a.RequestCount + b.RequestCount);
        Assert.All(a.Requests.Concat(b.Requests), r => Assert.Equal($"service.test:{a.Port}", r.Headers["Host"]));

        // DNS now lists only 127.0.0.2: the other address is drained (its idle connections closed), and takes nothing more.
        Volatile.Write(ref answer, [IPAddress.Parse("127.0.0.2")]);
        var cluster = handler.FindHost(new Uri(url))!.Cluster;
        await cluster.ResolveNowAsync(CancellationToken.None);
        Assert.Single(cluster.Destinations);
        await a.WaitForAsync(x => x.OpenConnections == 0, TimeSpan.FromSeconds(10));

        var before = a.RequestCount;
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal("hello", await client.GetStringAsync(url));
        }

        Assert.Equal(before, a.RequestCount);
        Assert.Equal(40 - before + 10, b.RequestCount);
        Assert.True(resolutions >= 2);
    }
}
