using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Forwarding;

/// <summary>When the request body goes to the backend: a small body of known length with its head in one send,
/// anything larger (or chunked) as it arrives.</summary>
public sealed class RequestBufferingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_small_body_that_arrives_in_two_parts_reaches_the_backend_in_one_send_with_its_head()
    {
        var (firstRead, secondHalfSent) = await SendInTwoPartsAsync(bodyBytes: 4000, firstPart: 2000);

        // Nothing reached the backend until the body was whole, and then the whole request came in one read.
        Assert.True(firstRead.At > secondHalfSent, "the backend saw the request before its body was complete");
        Assert.EndsWith(new string('b', 100), firstRead.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_over_the_limit_is_streamed_as_it_arrives()
    {
        // The control: 100 KB is over the 64 KiB limit, so the head and the first part go before the rest exists.
        var (firstRead, secondHalfSent) = await SendInTwoPartsAsync(bodyBytes: 100_000, firstPart: 2000);

        Assert.True(firstRead.At < secondHalfSent, "a large body was held back");
        Assert.StartsWith("POST /upload HTTP/1.1", firstRead.Text, StringComparison.Ordinal);
    }

    // The client sends the head and the first part of a Content-Length body ('a's), waits 300 ms, then the rest
    // ('b's). Returns the backend's first read (text, timestamp) and when the rest was sent.
    private async Task<((string Text, long At) FirstRead, long SecondHalfSent)> SendInTwoPartsAsync(int bodyBytes, int firstPart)
    {
        var firstRead = new TaskCompletionSource<(string, long)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var origin = RawOrigin.Start(async connection =>
        {
            var buffer = new byte[256 * 1024];
            var n = await connection.Socket.ReceiveAsync(buffer, SocketFlags.None);
            firstRead.TrySetResult((Encoding.Latin1.GetString(buffer, 0, n), Stopwatch.GetTimestamp()));
            var received = n;
            var headEnd = buffer.AsSpan(0, n).IndexOf("\r\n\r\n"u8) + 4;
            while (received - headEnd < bodyBytes)
            {
                received += await connection.Socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None);
            }

            await connection.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        await client.SendAsync($"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {bodyBytes}\r\n\r\n" + new string('a', firstPart));
        await Task.Delay(300);
        var secondHalfSent = Stopwatch.GetTimestamp();
        await client.SendAsync(new string('b', bodyBytes - firstPart));

        var response = await client.ReadResponseAsync();
        Assert.Equal(200, response.Status);
        return (await firstRead.Task, secondHalfSent);
    }
}
