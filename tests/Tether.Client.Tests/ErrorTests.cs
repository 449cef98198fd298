using System.Net;
using System.Net.Sockets;

namespace Tether.Client.Tests;

public sealed class ErrorTests
{
    [Fact]
    public async Task HttpClient_Timeout_is_a_TaskCanceledException()
    {
        var neverAnswer = new TaskCompletionSource<byte[]?>();
        await using var backend = new RawBackend { Respond = _ => new ValueTask<byte[]?>(neverAnswer.Task) };
        using var client = new HttpClient(new TetherHttpHandler()) { Timeout = TimeSpan.FromMilliseconds(300) };
        var error = await Assert.ThrowsAsync<TaskCanceledException>(() => client.GetStringAsync(backend.Url));
        Assert.IsType<TimeoutException>(error.InnerException);
        neverAnswer.SetResult(null);
    }

    [Fact]
    public async Task ResponseTimeout_on_a_reused_connection_is_a_TaskCanceledException_and_the_connection_is_closed()
    {
        // The second request's first receive is the read-ahead the pool started: ResponseTimeout must end it.
        var neverAnswer = new TaskCompletionSource<byte[]?>();
        await using var backend = new RawBackend { Respond = r => r.IndexOnConnection == 1 ? ValueTask.FromResult<byte[]?>(RawBackend.Ok("first")) : new ValueTask<byte[]?>(neverAnswer.Task) };
        var handler = new TetherHttpHandler(new TetherClientOptions { ResponseTimeout = TimeSpan.FromMilliseconds(300) });
        using var client = new HttpClient(handler);
        Assert.Equal("first", await client.GetStringAsync(backend.Url));

        var error = await Assert.ThrowsAsync<TaskCanceledException>(() => client.GetStringAsync(backend.Url));

        Assert.IsType<TimeoutException>(error.InnerException);
        Assert.Contains("ResponseTimeout", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, backend.ConnectionCount);
        var pool = Assert.Single(handler.FindHost(new Uri(backend.Url))!.Cluster.Destinations).Pool;
        Assert.Equal(1, pool.Statistics.Reused);
        Assert.Equal(1, pool.Statistics.Closed(Upstream.Pooling.ConnectionCloseReason.Error));
        Assert.Equal(0, pool.IdleCount);
        neverAnswer.SetResult(null);
    }

    [Fact]
    public async Task A_canceled_token_cancels_the_request_and_the_connection_is_not_reused()
    {
        var neverAnswer = new TaskCompletionSource<byte[]?>();
        await using var backend = new RawBackend { Respond = r => r.ConnectionId == 1 ? new ValueTask<byte[]?>(neverAnswer.Task) : ValueTask.FromResult<byte[]?>(RawBackend.Ok("hello")) };
        using var client = new HttpClient(new TetherHttpHandler());
        using var cts = new CancellationTokenSource();
        var pending = client.GetStringAsync(backend.Url, cts.Token);
        while (backend.RequestCount == 0)
        {
            await Task.Yield();
        }

        await cts.CancelAsync();
        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        Assert.Equal(cts.Token, error.CancellationToken);
        Assert.Equal("hello", await client.GetStringAsync(backend.Url));
        Assert.Equal(2, backend.ConnectionCount);
        neverAnswer.SetResult(null);
    }

    [Fact]
    public async Task A_refused_connection_is_an_HttpRequestException_with_ConnectionError()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        probe.Close(); // bound, never listening: the port refuses

        using var client = new HttpClient(new TetherHttpHandler());
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetStringAsync($"http://127.0.0.1:{port}/"));
        Assert.Equal(HttpRequestError.ConnectionError, error.HttpRequestError);
        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_response_is_InvalidResponse()
    {
        await using var backend = new RawBackend { Respond = _ => ValueTask.FromResult<byte[]?>("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"u8.ToArray()) };
        using var client = new HttpClient(new TetherHttpHandler());
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetStringAsync(backend.Url));
        Assert.Equal(HttpRequestError.InvalidResponse, error.HttpRequestError);
    }

    [Fact]
    public async Task A_body_cut_short_is_ResponseEnded()
    {
        await using var backend = new RawBackend { Respond = _ => ValueTask.FromResult<byte[]?>("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"u8.ToArray()) };
        var handler = new TetherHttpHandler();
        using var client = new HttpClient(handler);
        using var response = await client.GetAsync(backend.Url, HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[200];
        Assert.Equal(9, await body.ReadAtLeastAsync(buffer, 9));

        // The raw backend closes once its (short) answer is out only when it is disposed; do so to cut the body.
        await backend.DisposeAsync();
        var error = await Assert.ThrowsAsync<HttpIOException>(async () => await body.ReadAtLeastAsync(buffer, 1));
        Assert.Equal(HttpRequestError.ResponseEnded, error.HttpRequestError);
    }

    [Fact]
    public void Invalid_options_are_refused_naming_each_one()
    {
        var error = Assert.Throws<ArgumentException>(() => new TetherHttpHandler(new TetherClientOptions { IdleTimeout = TimeSpan.Zero, MaxAttempts = 0 }));
        Assert.Contains("IdleTimeout: must be above zero", error.Message, StringComparison.Ordinal);
        Assert.Contains("MaxAttempts: must be 1 or more", error.Message, StringComparison.Ordinal);
    }
}
