using System.Buffers;
using System.Text;
using Tether.Upstream.Http1;

namespace Tether.Upstream.Tests.Http1;

public sealed class ChunkedDecoderTests
{
    // Feeds the input in pieces of the given size, as a socket might deliver it.
    private static (string Body, bool Done) Decode(string wire, int pieceSize)
    {
        var bytes = Encoding.Latin1.GetBytes(wire);
        var decoder = new ChunkedDecoder();
        var body = new StringBuilder();
        var pending = Array.Empty<byte>();
        for (var offset = 0; offset < bytes.Length; offset += pieceSize)
        {
            var piece = bytes.AsSpan(offset, Math.Min(pieceSize, bytes.Length - offset));
            pending = [.. pending, .. piece];
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(pending));
            while (true)
            {
                var result = decoder.Read(ref reader, out var data);
                if (result == ChunkedReadResult.Data)
                {
                    body.Append(Encoding.Latin1.GetString(data.ToArray()));
                    continue;
                }

                pending = pending[(int)reader.Consumed..];
                if (result == ChunkedReadResult.Done)
                {
                    return (body.ToString(), true);
                }

                break;
            }
        }

        return (body.ToString(), false);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(1000)]
    public void Decodes_chunks_extensions_and_trailers_in_any_split(int pieceSize)
    {
        var (body, done) = Decode("5\r\nhello\r\n7;name=value\r\n, world\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n", pieceSize);
        Assert.True(done);
        Assert.Equal("hello, world0123456789", body);
    }

    [Fact]
    public void Incomplete_body_is_not_done()
    {
        var (body, done) = Decode("5\r\nhel", 100);
        Assert.False(done);
        Assert.Equal("hel", body);
    }

    [Theory]
    [InlineData("5\nhello\r\n0\r\n\r\n")]
    [InlineData("5\r\nhelloXX0\r\n\r\n")]
    [InlineData("zz\r\nhello\r\n0\r\n\r\n")]
    [InlineData(" 5\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5 \r\nhello\r\n0\r\n\r\n")]
    [InlineData("1000000000000000\r\n")]
    [InlineData("5;ext\nhello\r\n0\r\n\r\n")]
    [InlineData("0\r\nX: 1\n\r\n")]
    [InlineData("0\r\n\n")]
    public void Broken_framing_is_refused(string wire)
    {
        Assert.Throws<Http1ParseException>(() => Decode(wire, 1000));
    }

    [Fact]
    public void Oversized_extension_is_refused()
    {
        Assert.Throws<Http1ParseException>(() => Decode("5;" + new string('a', 5000) + "\r\nhello\r\n0\r\n\r\n", 1000));
    }
}
