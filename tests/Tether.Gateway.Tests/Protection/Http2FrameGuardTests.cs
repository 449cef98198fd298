using System.Buffers;
using System.Buffers.Binary;
using Tether.Gateway.Protection;

namespace Tether.Gateway.Tests.Protection;

/// <summary>
/// The frame-header parser behind downstream.http2.maxControlFramesPerSecond: what it counts, what it lets
/// through, that it follows frames split anywhere across reads, and the WINDOW_UPDATE credit that response bytes earn.
/// Time is a timestamp passed in (frequency 1,000 ticks a second).
/// </summary>
public class Http2FrameGuardTests
{
    private const long Second = 1000;
    private static readonly byte[] _preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    private static Http2FrameGuard Guard(int limit = 10) => new(limit, maxRequestHeadersSize: 32768, timestampFrequency: Second);

    private static byte[] Frame(byte type, byte flags, int streamId, int length, byte[]? payload = null)
    {
        var frame = new byte[9 + length];
        frame[0] = (byte)(length >> 16);
        frame[1] = (byte)(length >> 8);
        frame[2] = (byte)length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), streamId);
        payload?.CopyTo(frame, 9);
        return frame;
    }

    private static byte[] Times(byte[] frame, int count) => [.. Enumerable.Range(0, count).SelectMany(_ => frame)];

    private static Http2FrameVerdict Scan(Http2FrameGuard guard, byte[] bytes, long now = 0) => guard.Scan(new ReadOnlySequence<byte>(bytes), now);

    private static readonly byte[] _ping = Frame(0x6, 0, 0, 8);

    [Fact]
    public void The_frame_over_the_limit_in_one_second_is_a_flood_and_the_next_second_starts_again()
    {
        var guard = Guard(limit: 10);
        Assert.Equal(Http2FrameVerdict.Ok, Scan(guard, [.. _preface, .. Times(_ping, 10)]));
        Assert.Equal(Http2FrameVerdict.Ok, Scan(guard, Times(_ping, 10), now: Second));
        Assert.Equal(Http2FrameVerdict.ControlFlood, Scan(guard, _ping, now: Second + 999));
    }

    [Theory]
    [InlineData(0x4, 0, 0, 6)] // SETTINGS
    [InlineData(0x3, 0, 1, 4)] // RST_STREAM
    [InlineData(0x2, 0, 1, 5)] // PRIORITY
    [InlineData(0x0, 0, 1, 0)] // empty DATA without END_STREAM
    [InlineData(0x1, 0, 1, 0)] // empty HEADERS without END_STREAM
    [InlineData(0x42, 0, 0, 3)] // a type Kestrel ignores
    public void Frames_that_carry_no_request_are_counted(byte type, byte flags, int streamId, int length)
    {
        var guard = Guard(limit: 3);
        Assert.Equal(Http2FrameVerdict.ControlFlood, Scan(guard, [.. _preface, .. Times(Frame(type, flags, streamId, length), 4)]));
    }

    [Fact]
    public void Requests_and_their_bodies_are_not_counted()
    {
        var guard = Guard(limit: 1);
        var headers = Frame(0x1, 0x5, 1, 20); // END_STREAM | END_HEADERS
        var data = Frame(0x0, 0, 3, 100);
        var emptyEnd = Frame(0x0, 0x1, 3, 0); // empty DATA with END_STREAM ends a body: fine
        Assert.Equal(Http2FrameVerdict.Ok, Scan(guard, [.. _preface, .. Times([.. headers, .. data, .. emptyEnd], 50)]));
        Assert.Equal(0, guard.Count);
    }

    [Fact]
    public void A_padded_DATA_frame_of_only_padding_is_empty_and_counted()
    {
        var guard = Guard(limit: 1);
        var onlyPadding = Frame(0x0, 0x8, 1, 5, [4, 0, 0, 0, 0]); // pad length 4, no data
        var withData = Frame(0x0, 0x8, 1, 6, [4, 9, 0, 0, 0, 0]);
        Assert.Equal(Http2FrameVerdict.Ok, Scan(guard, [.. _preface, .. Times(withData, 10), .. onlyPadding]));
        Assert.Equal(1, guard.Count);
    }

    [Fact]
    public void Frames_split_at_every_byte_are_read_as_whole_frames()
    {
        var guard = Guard(limit: 5);
        var bytes = (byte[])[.. _preface, .. Frame(0x0, 0x8, 1, 3, [1, 7, 0]), .. Frame(0x0, 0, 1, 1000), .. Times(_ping, 6)];
        var verdict = Http2FrameVerdict.Ok;
        foreach (var b in bytes)
        {
            verdict = Scan(guard, [b]);
            if (verdict != Http2FrameVerdict.Ok)
            {
                break;
            }
        }

        Assert.Equal(Http2FrameVerdict.ControlFlood, verdict);
        Assert.Equal(6, guard.Count);
    }

    [Fact]
    public void A_header_block_of_more_than_64_CONTINUATION_frames_is_refused_whatever_the_rate()
    {
        var guard = Guard(limit: 0);
        var continuation = Frame(0x9, 0, 1, 1);
        Assert.Equal(Http2FrameVerdict.Ok, Scan(guard, [.. _preface, .. Frame(0x1, 0, 1, 10), .. Times(continuation, 64)]));
        Assert.Equal(Http2FrameVerdict.HeaderBlockTooLong, Scan(guard, continuation));
    }

    [Fact]
    public void END_HEADERS_ends_the_block_so_the_next_request_starts_its_count_again()
    {
        var guard = Guard(limit: 0);
        var block = (byte[])[.. Frame(0x1, 0x1, 1, 10), .. Times(Frame(0x9, 0, 1, 1), 40), .. Frame(0x9, 0x4, 1, 1)];
        Assert.Equal(Http2FrameVerdict.Ok, Scan(guard, [.. _preface, .. block, .. block, .. block]));
    }

    [Fact]
    public void A_header_block_over_twice_maxRequestHeadersSize_plus_16_KiB_is_refused()
    {
        var guard = new Http2FrameGuard(0, maxRequestHeadersSize: 8192, timestampFrequency: Second);
        Assert.Equal(Http2FrameVerdict.Ok, Scan(guard, [.. _preface, .. Frame(0x1, 0, 1, 16384), .. Frame(0x9, 0, 1, 16384)]));
        Assert.Equal(Http2FrameVerdict.HeaderBlockTooLong, Scan(guard, Frame(0x9, 0, 1, 1)));
    }

    [Fact]
    public void WINDOW_UPDATEs_are_paid_for_by_response_bytes_and_old_credit_lapses()
    {
        var guard = Guard(limit: 10);
        var windowUpdate = Frame(0x8, 0, 1, 4);
        Assert.Equal(Http2FrameVerdict.Ok, Scan(guard, _preface));

        // 100 KiB sent: 400 WINDOW_UPDATEs are free, then 10 more count, the 11th is over.
        guard.OnWritten(100 * 1024);
        Assert.Equal(Http2FrameVerdict.Ok, Scan(guard, Times(windowUpdate, 410)));
        Assert.Equal(10, guard.Count);
        Assert.Equal(Http2FrameVerdict.ControlFlood, Scan(guard, windowUpdate));

        // Credit earned one second carries into the next (the updates trail the data), not into the one after.
        var fresh = Guard(limit: 10);
        Scan(fresh, _preface);
        fresh.OnWritten(256 * 100);
        Assert.Equal(Http2FrameVerdict.Ok, Scan(fresh, Times(windowUpdate, 50), now: Second));
        Assert.Equal(0, fresh.Count);
        Assert.Equal(Http2FrameVerdict.Ok, Scan(fresh, Times(windowUpdate, 10), now: 3 * Second));
        Assert.Equal(10, fresh.Count);
    }
}
