using System.Net;
using System.Net.Sockets;
using System.Text;
using Tether.Upstream.Connecting;
using Tether.Upstream.Http1;
using Tether.Upstream.Pooling;

namespace Tether.Upstream.Tests.Http1;

/// <summary>
/// The check that an idle cleartext connection is still open is the response's own first receive, started when the
/// pool hands the connection out (<see cref="Http1Connection.ProbeBeforeUse"/>), not a poll() of its own. A raw-socket
/// backend on 127.0.0.1 plays each part.
/// </summary>
public sealed class Http1ReadAheadTests : IAsyncLifetime
{
    private static readonly TimeSpan _deadline = TimeSpan.FromSeconds(10);
    private static readonly ReadTimeouts _timeouts = new(TimeSpan.FromSeconds(10));

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private Socket _backend = null!;
    private Http1Connection _connection = null!;

    public async Task InitializeAsync()
    {
        _listener.Start();
        var connector = new UpstreamConnector(_listener.LocalEndpoint, "127.0.0.1", TimeSpan.FromSeconds(5), keepAlive: null, tls: null);
        var accept = _listener.AcceptSocketAsync();
        _connection = await Http1Connection.ConnectAsync(
            connector, default, () => new ConnectionLifetime(TimeProvider.System, TimeSpan.FromMinutes(1), null, 0), CancellationToken.None);
        _backend = await accept;
    }

    public Task DisposeAsync()
    {
        _connection.Close(ConnectionCloseReason.Shutdown);
        _backend.Dispose();
        _listener.Stop();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task An_open_quiet_connection_passes_and_its_read_ahead_carries_the_response()
    {
        for (var i = 0; i < 3; i++)
        {
            Assert.Null(_connection.ProbeBeforeUse());

            // Called twice on one lease (a pool handing out a connection given back unused): still one receive.
            Assert.Null(_connection.ProbeBeforeUse());
            var head = await ExchangeAsync($"body{i}");
            Assert.Equal(200, head.StatusCode);
            Assert.Null(_connection.EndExchange());
        }
    }

    [Fact]
    public async Task A_backend_that_closed_while_idle_is_found_PeerClosed()
    {
        _backend.Shutdown(SocketShutdown.Send);

        // The FIN is on its way over loopback; the first call starts the receive that meets it.
        ConnectionCloseReason? reason = null;
        Assert.True(SpinWait.SpinUntil(() => (reason = _connection.ProbeBeforeUse()) is not null, _deadline));
        Assert.Equal(ConnectionCloseReason.PeerClosed, reason);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Bytes_nobody_asked_for_make_it_UnexpectedData_even_after_the_receive_started()
    {
        // The receive is already pending when the bytes come: the read-ahead takes them, and the next look sees it.
        Assert.Null(_connection.ProbeBeforeUse());
        await _backend.SendAsync("HTTP/1.1 200 OK\r\n\r\n"u8.ToArray());
        ConnectionCloseReason? reason = null;
        Assert.True(SpinWait.SpinUntil(() => (reason = _connection.ProbeIdle()) is not null, _deadline));
        Assert.Equal(ConnectionCloseReason.UnexpectedData, reason);
    }

    [Fact]
    public async Task The_response_timeout_still_ends_a_wait_that_began_as_the_read_ahead()
    {
        Assert.Null(_connection.ProbeBeforeUse());
        WriteRequest();
        await _connection.FlushAsync(UpstreamPhase.SendRequest);

        // The backend never answers: without the timeout's token on the read-ahead this would wait forever.
        var read = _connection.ReadResponseHeadAsync(requestWasHead: false, new ReadTimeouts(TimeSpan.FromMilliseconds(200))).AsTask();
        var ex = await Assert.ThrowsAsync<UpstreamException>(() => read.WaitAsync(_deadline));
        Assert.Equal(UpstreamErrorKind.Timeout, ex.Kind);
        Assert.False(ex.ResponseBytesReceived);
    }

    [Fact]
    public async Task A_backend_that_closes_after_the_read_ahead_started_fails_the_request_before_any_response_byte()
    {
        Assert.Null(_connection.ProbeBeforeUse());
        WriteRequest();
        await _connection.FlushAsync(UpstreamPhase.SendRequest);
        _backend.Shutdown(SocketShutdown.Send);

        var ex = await Assert.ThrowsAsync<UpstreamException>(() => _connection.ReadResponseHeadAsync(false, _timeouts).AsTask().WaitAsync(_deadline));
        Assert.Equal(UpstreamErrorKind.Closed, ex.Kind);

        // What decides the forwarder's safe retry.
        Assert.False(ex.ResponseBytesReceived);
    }

    private void WriteRequest()
    {
        _connection.BeginRequest();
        Http1RequestWriter.WriteRequestLine(_connection.Output, "GET", "/");
        Http1RequestWriter.WriteHeader(_connection.Output, "Host", "backend");
        Http1RequestWriter.WriteEndOfHead(_connection.Output);
    }

    private async Task<Http1ResponseHead> ExchangeAsync(string body)
    {
        WriteRequest();
        await _connection.FlushAsync(UpstreamPhase.SendRequest);
        await ReadRequestAsync();
        await _backend.SendAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\n\r\n{body}"));
        var head = await _connection.ReadResponseHeadAsync(false, _timeouts).AsTask().WaitAsync(_deadline);
        var read = new byte[body.Length];
        var got = 0;
        while (got < read.Length)
        {
            got += await _connection.ReadBodyAsync(read.AsMemory(got), _timeouts).AsTask().WaitAsync(_deadline);
        }

        Assert.Equal(body, Encoding.ASCII.GetString(read));
        return head;
    }

    private async Task ReadRequestAsync()
    {
        var seen = new List<byte>();
        var chunk = new byte[1024];
        while (!Encoding.ASCII.GetString(seen.ToArray()).Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var n = await _backend.ReceiveAsync(chunk, SocketFlags.None).WaitAsync(_deadline);
            Assert.NotEqual(0, n);
            seen.AddRange(chunk.AsSpan(0, n));
        }
    }
}
