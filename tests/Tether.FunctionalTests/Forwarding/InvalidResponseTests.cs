using Tether.FunctionalTests.Infrastructure;
using Tether.Upstream;
using Tether.Upstream.Pooling;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Forwarding;

/// <summary>
/// A backend response Tether cannot frame with certainty is refused (502) and its connection is closed, never
/// reused: reading it differently from the backend is how response smuggling starts.
/// </summary>
public sealed class InvalidResponseTests(ITestOutputHelper output)
{
    public static TheoryData<string, string> BadHeads => new()
    {
        { "Content-Length and Transfer-Encoding", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" },
        { "two different Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!" },
        { "Content-Length list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!" },
        { "bad status line", "HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok" },
        { "not HTTP", "SSH-2.0-OpenSSH_9.6\r\n\r\n" },
        { "header folding", "HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\nContent-Length: 2\r\n\r\nok" },
        { "chunk size not hex, before any body byte", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nhello\r\n0\r\n\r\n" },
        { "oversized head", "HTTP/1.1 200 OK\r\nX-Big: " + new string('a', 100 * 1024) + "\r\nContent-Length: 2\r\n\r\nok" },
        { "status 999", "HTTP/1.1 999 Nope\r\nContent-Length: 2\r\n\r\nok" },
        { "205 with a body", "HTTP/1.1 205 Reset Content\r\nContent-Length: 5\r\n\r\nhello" },
        { "bare LF line ends", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok" },
        { "head just over 64 KiB", "HTTP/1.1 200 OK\r\nX-Big: " + new string('a', (64 * 1024) + 100) + "\r\nContent-Length: 2\r\n\r\nok" },
    };

    [Theory]
    [MemberData(nameof(BadHeads))]
    public async Task An_invalid_response_head_is_a_502_and_its_connection_is_discarded(string what, string response)
    {
        output.WriteLine(what);
        var originSawClose = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var origin = RawOrigin.Start(async connection =>
        {
            while (await connection.ReadRequestAsync() is { } request)
            {
                if (request.Target != "/bad")
                {
                    await connection.RespondAsync(200, $"c{connection.Index}");
                    continue;
                }

                try
                {
                    await connection.WriteAsync(response);
                }
                finally
                {
                    originSawClose.TrySetResult(await connection.WaitForPeerCloseAsync(TimeSpan.FromSeconds(10)));
                }

                return;
            }
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        Assert.Equal("c1", (await client.GetAsync("/good")).BodyText);
        var bad = await client.GetAsync("/bad");
        var after = await client.GetAsync("/good");

        Assert.Equal(502, bad.Status);
        Assert.Contains("InvalidResponse", bad.BodyText, StringComparison.Ordinal);
        Assert.True(await originSawClose.Task, "Tether did not close the connection that carried the bad response");
        Assert.Equal("c2", after.BodyText);
        Assert.Equal(1, gateway.PoolStatistics().Closed(ConnectionCloseReason.InvalidResponse));
        Assert.Equal(1, gateway.Gateway.Counters.Errors(UpstreamPhase.ReadHeaders, UpstreamErrorKind.InvalidResponse)
            + gateway.Gateway.Counters.Errors(UpstreamPhase.ReadBody, UpstreamErrorKind.InvalidResponse));
        Assert.Empty(gateway.Logs.Named("UpstreamRetry"));
    }

    /// <summary>
    /// A 204 says there is no body whatever its Content-Length; bytes after its head are not the client's and not
    /// the next response's: the client gets a clean 204, and the connection that carried the junk is not reused.
    /// </summary>
    [Theory]
    [InlineData("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello")]
    [InlineData("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello")]
    public async Task Bytes_after_a_bodyless_response_never_reach_the_client_and_the_connection_is_dropped(string response)
    {
        await using var origin = RawOrigin.Start(async connection =>
        {
            while (await connection.ReadRequestAsync() is { } request)
            {
                if (request.Target == "/bodyless")
                {
                    await connection.WriteAsync(response);
                    continue;
                }

                await connection.RespondAsync(200, $"c{connection.Index}");
            }
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        Assert.Equal("c1", (await client.GetAsync("/good")).BodyText);
        var bodyless = await client.GetAsync("/bodyless");
        var after = await client.GetAsync("/good");

        Assert.Equal(int.Parse(response.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture), bodyless.Status);
        Assert.Equal("", bodyless.BodyText);
        Assert.Equal("c2", after.BodyText);
        Assert.Equal(1, gateway.PoolStatistics().Closed(ConnectionCloseReason.UnexpectedData));
    }

    /// <summary>
    /// The head and a first chunk went to the client before the broken chunk arrived: too late for a 502, so
    /// Tether cuts the client connection; the client sees a chunked body that never ends.
    /// </summary>
    [Fact]
    public async Task A_broken_chunk_after_the_response_started_aborts_the_client_connection()
    {
        var originSawClose = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var origin = RawOrigin.Start(async connection =>
        {
            await connection.ReadRequestAsync();
            await connection.WriteAsync("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
            await Task.Delay(200);
            await connection.WriteAsync("QQ\r\nworld\r\n0\r\n\r\n");
            originSawClose.TrySetResult(await connection.WaitForPeerCloseAsync(TimeSpan.FromSeconds(10)));
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        var response = await client.GetAsync();

        Assert.Equal(200, response.Status);
        Assert.False(response.Complete, "the client must not see a complete body");
        Assert.Equal("hello", response.BodyText);
        Assert.True(client.Reader.PeerClosed);
        Assert.True(await originSawClose.Task);
        Assert.Equal(1, gateway.PoolStatistics().Closed(ConnectionCloseReason.InvalidResponse));
        Assert.Equal(1, gateway.Gateway.Counters.Errors(UpstreamPhase.ReadBody, UpstreamErrorKind.InvalidResponse));
    }

    [Fact]
    public async Task A_body_cut_short_by_the_backend_aborts_the_client_connection()
    {
        await using var origin = RawOrigin.Start(async connection =>
        {
            await connection.ReadRequestAsync();
            await connection.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly forty bytes of the hundred promised");
            await Task.Delay(100);
            connection.Close();
        });
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        var response = await client.GetAsync();

        Assert.Equal(200, response.Status);
        Assert.False(response.Complete);
        Assert.True(client.Reader.PeerClosed);
        Assert.Equal(1, gateway.Gateway.Counters.Errors(UpstreamPhase.ReadBody, UpstreamErrorKind.Closed));
    }

    [Fact]
    public async Task Bytes_after_the_end_of_a_response_make_its_connection_unusable()
    {
        await using var origin = RawOrigin.Serve((request, connection) => connection.WriteAsync(request.ConnectionIndex == 1
            ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nc1HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"
            : $"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nc{request.ConnectionIndex}"));
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using var client = await gateway.ConnectAsync();

        var first = await client.GetAsync();
        await Task.Delay(50);
        var second = await client.GetAsync();

        Assert.Equal("c1", first.BodyText);
        Assert.Equal("c2", second.BodyText);
        Assert.Equal(2, origin.Accepted);
        Assert.Equal(1, gateway.PoolStatistics().Closed(ConnectionCloseReason.UnexpectedData));
    }
}
