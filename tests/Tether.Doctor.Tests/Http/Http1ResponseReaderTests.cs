using System.Text;
using Tether.Doctor.Http;

namespace Tether.Doctor.Tests.Http;

public sealed class Http1ResponseReaderTests
{
    [Fact]
    public async Task Chunked_body_with_trailers_is_read_to_its_end_and_the_next_response_follows()
    {
        var buffer = Buffer(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
            + "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");

        var first = await ReadAsync(buffer);
        var second = await ReadAsync(buffer);

        Assert.Equal(11, first.BodyLength);
        Assert.False(first.ServerWillClose);
        Assert.Equal(204, second.StatusCode);
        Assert.True(second.ServerWillClose);
    }

    [Fact]
    public async Task Content_length_head_and_close_delimited_bodies_are_framed()
    {
        var head = await ReadAsync(Buffer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nKeep-Alive: timeout=5, max=99\r\n\r\n"), isHead: true);
        Assert.Equal(0, head.BodyLength);
        Assert.Equal(TimeSpan.FromSeconds(5), head.AdvertisedIdleTimeout);
        Assert.Equal(99, head.AdvertisedMaxRequests);

        var sized = await ReadAsync(Buffer("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"));
        Assert.Equal(3, sized.BodyLength);

        var closeDelimited = await ReadAsync(Buffer("HTTP/1.0 200 OK\r\n\r\nuntil the end"));
        Assert.True(closeDelimited.CloseDelimited);
        Assert.Equal(13, closeDelimited.BodyLength);
        Assert.True(closeDelimited.ServerWillClose);
    }

    [Fact]
    public async Task A_connection_closed_before_any_byte_says_so()
    {
        var error = await Assert.ThrowsAsync<ConnectionClosedException>(() => ReadAsync(Buffer("")));

        Assert.Contains("without responding", error.Message, StringComparison.Ordinal);
    }

    private static ReceiveBuffer Buffer(string text) => new(new MemoryStream(Encoding.ASCII.GetBytes(text)), TimeProvider.System);

    private static Task<ProbeResponse> ReadAsync(ReceiveBuffer buffer, bool isHead = false) =>
        Http1ResponseReader.ReadAsync(buffer, isHead, TimeProvider.System.GetTimestamp(), TimeProvider.System, CancellationToken.None);
}
