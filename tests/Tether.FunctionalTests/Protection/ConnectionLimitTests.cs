using System.Net.Sockets;
using Tether.Gateway.Protection;

namespace Tether.FunctionalTests.Protection;

public class ConnectionLimitTests
{
    private const string Get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

    [Fact]
    public async Task Over_the_per_client_cap_a_new_connection_is_closed_at_once_and_others_are_unaffected()
    {
        await using var gateway = await ProtectionGateway.StartAsync(d => d with { MaxConnectionsPerClient = 3 });
        var held = new List<Socket>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var socket = await gateway.ConnectAsync("127.0.0.1");
                held.Add(socket);
                Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(socket, Get), StringComparison.Ordinal);
            }

            using (var fourth = await gateway.ConnectAsync("127.0.0.1"))
            {
                Assert.Equal("", await ProtectionGateway.ExchangeAsync(fourth, Get, 2000));
            }

            Assert.Equal(1, gateway.Closed(ProtectionCloseReason.PerClientLimit));

            // Another address is its own client; the three held connections still work.
            using var other = await gateway.ConnectAsync("127.0.0.2");
            Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(other, Get), StringComparison.Ordinal);
            foreach (var socket in held)
            {
                Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(socket, Get), StringComparison.Ordinal);
            }

            // Closing one frees its slot.
            held[0].Dispose();
            held.RemoveAt(0);
            var served = false;
            for (var attempt = 0; attempt < 50 && !served; attempt++)
            {
                using var again = await gateway.ConnectAsync("127.0.0.1");
                served = (await ProtectionGateway.ExchangeAsync(again, Get, 2000)).StartsWith("HTTP/1.1 200 ", StringComparison.Ordinal);
                if (!served)
                {
                    await Task.Delay(20); // the server notices the close asynchronously
                }
            }

            Assert.True(served);
        }
        finally
        {
            held.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task Over_the_global_cap_a_new_connection_is_closed_and_counted()
    {
        await using var gateway = await ProtectionGateway.StartAsync(d => d with { MaxConnections = 2 });
        using var a = await gateway.ConnectAsync("127.0.0.1");
        using var b = await gateway.ConnectAsync("127.0.0.2");
        Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(a, Get), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 200 ", await ProtectionGateway.ExchangeAsync(b, Get), StringComparison.Ordinal);

        using var c = await gateway.ConnectAsync("127.0.0.3");
        Assert.Equal("", await ProtectionGateway.ExchangeAsync(c, Get, 2000));
        Assert.Equal(1, gateway.Closed(ProtectionCloseReason.GlobalLimit));
        Assert.Equal(0, gateway.Closed(ProtectionCloseReason.PerClientLimit));
    }
}
