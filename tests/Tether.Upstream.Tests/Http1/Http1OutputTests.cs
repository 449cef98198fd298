using System.Net;
using System.Net.Sockets;
using Tether.Upstream.Http1;

namespace Tether.Upstream.Tests.Http1;

/// <summary>
/// The request writer to a backend (<see cref="Http1Output"/>) over a real socket pair on 127.0.0.1: bytes arrive in
/// the order written across segments, nothing is sent before a flush, and a close drops what was not flushed.
/// </summary>
public sealed class Http1OutputTests : IAsyncLifetime
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private Socket _client = null!;
    private Socket _peer = null!;
    private Http1Output _output = null!;

    public async Task InitializeAsync()
    {
        _listener.Start();
        _client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accept = _listener.AcceptSocketAsync();
        await _client.ConnectAsync(_listener.LocalEndpoint);
        _peer = await accept;
        _output = new Http1Output(_client, tls: null);
    }

    public Task DisposeAsync()
    {
        _client.Dispose();
        _peer.Dispose();
        _listener.Stop();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Writes_spanning_several_segments_arrive_whole_and_in_order()
    {
        // 7 KB pieces cross the 16 KB segment boundary; one large hint asks for more than a segment at once.
        var expected = new List<byte>();
        for (var i = 0; i < 10; i++)
        {
            Write(Fill(7 * 1024, (byte)i), expected);
        }

        Write(Fill(40 * 1024, 0xAB), expected);
        Assert.Equal(expected.Count, _output.UnflushedBytes);

        await _output.FlushAsync();
        Assert.Equal(0, _output.UnflushedBytes);
        Assert.Equal(expected.ToArray(), await ReceiveAsync(expected.Count));

        // The writer is reusable after a flush: the next request's bytes follow.
        var next = new List<byte>();
        Write(Fill(100, 0x5A), next);
        await _output.FlushAsync();
        Assert.Equal(next.ToArray(), await ReceiveAsync(next.Count));
    }

    [Fact]
    public async Task Nothing_is_sent_before_a_flush_and_a_close_drops_what_was_not_flushed()
    {
        Write(Fill(1000, 1), []);
        await _output.FlushAsync();
        Assert.Equal(1000, (await ReceiveAsync(1000)).Length);

        // A head written, then the request abandoned (say its body proved malformed): none of it may reach the backend.
        Write(Fill(500, 2), []);
        _output.Complete();
        _client.Shutdown(SocketShutdown.Send);

        var rest = new byte[1];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal(0, await _peer.ReceiveAsync(rest, SocketFlags.None, cts.Token));

        Assert.Throws<ObjectDisposedException>(() => _output.GetSpan());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await _output.FlushAsync());
    }

    [Fact]
    public void Advancing_past_the_memory_asked_for_is_refused()
    {
        var length = _output.GetSpan(10).Length;
        Assert.Throws<InvalidOperationException>(() => _output.Advance(length + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => _output.Advance(-1));
    }

    private void Write(byte[] bytes, List<byte> record)
    {
        bytes.CopyTo(_output.GetSpan(bytes.Length));
        _output.Advance(bytes.Length);
        record.AddRange(bytes);
    }

    private static byte[] Fill(int count, byte seed)
    {
        var bytes = new byte[count];
        for (var i = 0; i < count; i++)
        {
            bytes[i] = (byte)(seed + i);
        }

        return bytes;
    }

    private async Task<byte[]> ReceiveAsync(int count)
    {
        var into = new byte[count];
        var got = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (got < count)
        {
            var n = await _peer.ReceiveAsync(into.AsMemory(got), SocketFlags.None, cts.Token);
            Assert.NotEqual(0, n);
            got += n;
        }

        return into;
    }
}
