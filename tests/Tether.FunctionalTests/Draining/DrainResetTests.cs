using System.Net.Sockets;
using System.Text;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Tether.Gateway;

namespace Tether.FunctionalTests.Draining;

/// <summary>
/// A drain with <c>drain.delay</c> 0 while clients keep opening brand-new connections: each connection either
/// gets its whole response or is refused, never reset. Before the fix, closing the listening socket reset the
/// connections the kernel had completed but nobody had accepted yet (about two per drain, issue 13).
/// </summary>
public sealed class DrainResetTests : IAsyncLifetime
{
    private const int Clients = 8;
    private const int Drains = 4;
    private NamedOrigin _origin = null!;

    public async Task InitializeAsync() => _origin = await NamedOrigin.StartAsync("origin");

    public async Task DisposeAsync() => await _origin.DisposeAsync();

    [Theory]
    [InlineData(ListenerEngine.Kestrel)]
    [InlineData(ListenerEngine.Tether)]
    public async Task New_connections_during_a_drain_with_no_delay_are_answered_or_refused_never_reset(ListenerEngine engine)
    {
        var total = new Tally();
        for (var drain = 0; drain < Drains; drain++)
        {
            var config = TestGateway.ConfigFor(_origin.Address) with
            {
                Listeners = [new ListenerConfig { Address = "127.0.0.1:0", Protocols = ListenerProtocols.Http1, Engine = engine }],
                Drain = new DrainConfig { Delay = TimeSpan.Zero, Timeout = TimeSpan.FromSeconds(5) },
            };

            // Not TestGateway.StartAsync: it would let TETHER_TEST_ENGINE override the engine this test names.
            await using var gateway = await TetherGateway.StartAsync(config, new GatewayOptions());
            var target = gateway.ListenerUrls[0];
            var tally = new Tally();
            using var stop = new CancellationTokenSource();
            var clients = new Task[Clients];
            for (var i = 0; i < Clients; i++)
            {
                clients[i] = Task.Run(() => ConnectInALoopAsync(target, tally, stop.Token));
            }

            // Drain while connections are being opened (the event: some answered already), then let the clients run
            // until each has been refused, so every connection opened around the listener's close is counted.
            await UntilAsync(() => Volatile.Read(ref tally.Answered) >= 20 || Volatile.Read(ref tally.Unanswered) > 0);
            Assert.True(tally.Unanswered == 0, $"a connection was not answered before the drain: '{tally.Sample}'");
            await gateway.DrainAsync("test");
            await UntilAsync(() => Volatile.Read(ref tally.Refused) >= Clients);
            await stop.CancelAsync();
            await Task.WhenAll(clients);
            total.Add(tally);
        }

        Assert.True(total.Answered >= Drains * 20, $"the clients were answered {total.Answered} times; the test proves nothing");
        Assert.True(total.Refused >= Drains * Clients, $"refused {total.Refused} times: the drains never closed the listener");
        Assert.Equal(0, total.Reset);
        Assert.True(total.Unanswered == 0, $"{total.Unanswered} connection(s) closed without a whole response, e.g. '{total.Sample}'");
    }

    // Poll's 10 s is short for a machine whose cores are taken by normal-priority work while tests run niced.
    private static async Task UntilAsync(Func<bool> condition)
    {
        var deadline = System.Diagnostics.Stopwatch.GetTimestamp() + (System.Diagnostics.Stopwatch.Frequency * 60);
        while (!condition())
        {
            Assert.True(System.Diagnostics.Stopwatch.GetTimestamp() < deadline, "condition not met within 60 s");
            await Task.Delay(20);
        }
    }

    // One connection after another: connect, send a request, read to the end. Stops at the first refusal.
    private static async Task ConnectInALoopAsync(Uri target, Tally tally, CancellationToken stop)
    {
        var request = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: test\r\n\r\n");
        var buffer = new byte[4096];
        while (!stop.IsCancellationRequested)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(target.Host, target.Port, stop);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
            {
                Interlocked.Increment(ref tally.Refused);
                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var received = new StringBuilder();
            try
            {
                await socket.SendAsync(request, SocketFlags.None, stop);

                // The response carries a Content-Length; during the drain it says Connection: close and the gateway
                // closes. Read until the whole body is in, or the gateway closes.
                int n;
                while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, stop)) > 0)
                {
                    received.Append(Encoding.Latin1.GetString(buffer, 0, n));
                    if (IsComplete(received.ToString()))
                    {
                        break;
                    }
                }

                if (IsComplete(received.ToString()))
                {
                    Interlocked.Increment(ref tally.Answered);
                }
                else
                {
                    Interlocked.Increment(ref tally.Unanswered);
                    Interlocked.CompareExchange(ref tally.Sample, received.ToString(), null);
                }
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted)
            {
                Interlocked.Increment(ref tally.Reset);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    // A 200 with its whole body: as long as its Content-Length says, or chunked up to the last chunk.
    private static bool IsComplete(string response)
    {
        var end = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0 || !response.StartsWith("HTTP/1.1 200 ", StringComparison.Ordinal))
        {
            return false;
        }

        var head = response[..(end + 2)];
        const string Prefix = "\r\nContent-Length: ";
        var at = head.IndexOf(Prefix, StringComparison.OrdinalIgnoreCase);
        if (at < 0)
        {
            return head.Contains("\r\nTransfer-Encoding: chunked\r\n", StringComparison.OrdinalIgnoreCase)
                && response.EndsWith("\r\n0\r\n\r\n", StringComparison.Ordinal);
        }

        var lineEnd = head.IndexOf("\r\n", at + Prefix.Length, StringComparison.Ordinal);
        return int.TryParse(head.AsSpan(at + Prefix.Length, lineEnd - at - Prefix.Length), out var length) && response.Length - end - 4 >= length;
    }

    private sealed class Tally
    {
        public int Answered;
        public int Refused;
        public int Reset;
        public int Unanswered;
        public string? Sample;

        public void Add(Tally other)
        {
            Answered += other.Answered;
            Refused += other.Refused;
            Reset += other.Reset;
            Unanswered += other.Unanswered;
            Sample ??= other.Sample;
        }
    }
}
