using System.Buffers;
using System.Text;
using Tether.Upstream.Http1;

namespace Tether.Upstream.Tests.Http1;

public sealed class Http1ResponseHeadTests
{
    private static Http1ResponseHead Parse(string head, bool requestWasHead = false)
    {
        var parsed = new Http1ResponseHead();
        parsed.Parse(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(head.Replace("\n", "\r\n", StringComparison.Ordinal) + "\r\n")), requestWasHead);
        return parsed;
    }

    private static List<string> EndToEnd(Http1ResponseHead head)
    {
        var names = new List<string>();
        for (var i = 0; i < head.HeaderCount; i++)
        {
            if (head.IsEndToEnd(i))
            {
                names.Add(Encoding.Latin1.GetString(head.GetName(i)) + "=" + Encoding.Latin1.GetString(head.GetValue(i)));
            }
        }

        return names;
    }

    [Fact]
    public void Parses_status_headers_and_content_length()
    {
        var head = Parse("HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 12\nX-A:  spaced value \n");
        Assert.Equal(200, head.StatusCode);
        Assert.Equal(BodyFraming.ContentLength, head.Framing);
        Assert.Equal(12, head.ContentLength);
        Assert.False(head.ConnectionClose);
        Assert.Equal(["Content-Type=text/plain", "X-A=spaced value"], EndToEnd(head));
    }

    [Fact]
    public void Chunked_is_chunked_and_never_passed_on()
    {
        var head = Parse("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n");
        Assert.Equal(BodyFraming.Chunked, head.Framing);
        Assert.Empty(EndToEnd(head));
    }

    [Fact]
    public void Transfer_coding_not_ending_in_chunked_is_close_delimited()
    {
        var head = Parse("HTTP/1.1 200 OK\nTransfer-Encoding: gzip\n");
        Assert.Equal(BodyFraming.CloseDelimited, head.Framing);
        Assert.True(head.ConnectionClose);
    }

    [Fact]
    public void No_length_means_close_delimited()
    {
        var head = Parse("HTTP/1.1 200 OK\nContent-Type: text/plain\n");
        Assert.Equal(BodyFraming.CloseDelimited, head.Framing);
        Assert.True(head.ConnectionClose);
    }

    [Theory]
    [InlineData(204)]
    [InlineData(304)]
    [InlineData(101)]
    public void Statuses_without_body(int status)
    {
        var head = Parse($"HTTP/1.1 {status} X\nContent-Length: 10\n");
        Assert.Equal(BodyFraming.None, head.Framing);
    }

    [Fact]
    public void Head_request_has_no_body_whatever_the_headers_say()
    {
        var head = Parse("HTTP/1.1 200 OK\nContent-Length: 1000\n", requestWasHead: true);
        Assert.Equal(BodyFraming.None, head.Framing);
        Assert.Equal(1000, head.ContentLength);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\nContent-Length: 5\nTransfer-Encoding: chunked\n", "both Transfer-Encoding and Content-Length")]
    [InlineData("HTTP/1.1 200 OK\nContent-Length: 5\nContent-Length: 6\n", "two different Content-Length")]
    [InlineData("HTTP/1.1 200 OK\nContent-Length: -5\n", "invalid Content-Length")]
    [InlineData("HTTP/1.1 200 OK\nContent-Length: 5, 5\n", "invalid Content-Length")]
    [InlineData("HTTP/1.1 200 OK\nContent-Length: +5\n", "invalid Content-Length")]
    [InlineData("HTTP/2 200 OK\n", "bad status line")]
    [InlineData("HTTP/1.1 20 OK\n", "bad status")]
    [InlineData("HTTP/1.1 abc OK\n", "bad status code")]
    [InlineData("HTTP/1.1 999 Nope\n", "outside 100-599")]
    [InlineData("HTTP/1.1 600 Nope\nContent-Length: 0\n", "outside 100-599")]
    [InlineData("HTTP/1.1 205 Reset Content\nContent-Length: 5\n", "205 Reset Content with a body")]
    [InlineData("HTTP/1.1 205 Reset Content\nTransfer-Encoding: chunked\n", "205 Reset Content with a body")]
    [InlineData("HTTP/1.1 200 OK\nX-A: 1\n folded\n", "folding")]
    [InlineData("HTTP/1.1 200 OK\nBad Name: 1\n", "invalid header name")]
    [InlineData("HTTP/1.1 200 OK\n: 1\n", "without a name")]
    [InlineData("HTTP/1.1 200 OK\nX-A: a\u0001b\n", "control character")]
    public void Malformed_or_ambiguous_heads_are_refused(string text, string message)
    {
        var ex = Assert.Throws<Http1ParseException>(() => Parse(text));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HTTP/1.1 205 Reset Content\nContent-Length: 0\n")]
    [InlineData("HTTP/1.1 205 Reset Content\n")]
    [InlineData("HTTP/1.1 204 No Content\nContent-Length: 5\n")]
    [InlineData("HTTP/1.1 304 Not Modified\nContent-Length: 1234\n")]
    [InlineData("HTTP/1.1 599 Custom\nContent-Length: 0\n")]
    public void Bodyless_statuses_have_no_body_and_599_is_a_status(string text)
    {
        var head = Parse(text);
        Assert.Equal(BodyFraming.None, head.Framing);
    }

    [Fact]
    public void Same_content_length_twice_is_accepted()
    {
        var head = Parse("HTTP/1.1 200 OK\nContent-Length: 5\ncontent-length: 5\n");
        Assert.Equal(5, head.ContentLength);
    }

    [Fact]
    public void Hop_by_hop_and_nominated_headers_are_not_end_to_end()
    {
        var head = Parse("HTTP/1.1 200 OK\nConnection: X-Bar, keep-alive\nX-Bar: 1\nKeep-Alive: timeout=5\nProxy-Connection: x\nTrailer: X-T\nUpgrade: h2c\nTE: trailers\nX-Kept: yes\nContent-Length: 0\n");
        Assert.Equal(["X-Kept=yes"], EndToEnd(head));
        Assert.False(head.ConnectionClose);
    }

    [Fact]
    public void Upgrade_is_kept_on_a_101()
    {
        var head = Parse("HTTP/1.1 101 Switching Protocols\nConnection: Upgrade\nUpgrade: websocket\nSec-WebSocket-Accept: abc\n");
        Assert.Equal(["Upgrade=websocket", "Sec-WebSocket-Accept=abc"], EndToEnd(head));
    }

    [Fact]
    public void Connection_close_and_keep_alive_parameters()
    {
        var head = Parse("HTTP/1.1 200 OK\nConnection: close\nKeep-Alive: timeout=5, max=100\nContent-Length: 0\n");
        Assert.True(head.ConnectionClose);
        Assert.Equal(TimeSpan.FromSeconds(5), head.KeepAliveTimeout);
        Assert.Equal(100, head.KeepAliveMax);
    }

    [Fact]
    public void Http10_closes_unless_it_says_keep_alive()
    {
        Assert.True(Parse("HTTP/1.0 200 OK\nContent-Length: 0\n").ConnectionClose);
        Assert.False(Parse("HTTP/1.0 200 OK\nConnection: keep-alive\nContent-Length: 0\n").ConnectionClose);
    }

    [Fact]
    public void A_parsed_head_is_reset_by_the_next_one()
    {
        var head = Parse("HTTP/1.1 200 OK\nConnection: close, X-A\nKeep-Alive: max=1\nContent-Length: 3\n");
        head.Parse(new ReadOnlySequence<byte>("HTTP/1.1 404 Not Found\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n"u8.ToArray()), false);
        Assert.Equal(404, head.StatusCode);
        Assert.False(head.ConnectionClose);
        Assert.Null(head.KeepAliveMax);
        Assert.Equal(BodyFraming.Chunked, head.Framing);
        Assert.Equal(["X-A=1"], EndToEnd(head));
    }
}
