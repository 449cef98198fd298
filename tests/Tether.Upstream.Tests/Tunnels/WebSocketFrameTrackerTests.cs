using Tether.Upstream.Tunnels;

namespace Tether.Upstream.Tests.Tunnels;

public sealed class WebSocketFrameTrackerTests
{
    private static byte[] Frame(int payload, bool masked, byte opcode = 0x2)
    {
        var header = new List<byte> { (byte)(0x80 | opcode) };
        var maskBit = masked ? 0x80 : 0;
        if (payload < 126)
        {
            header.Add((byte)(maskBit | payload));
        }
        else if (payload <= ushort.MaxValue)
        {
            header.Add((byte)(maskBit | 126));
            header.Add((byte)(payload >> 8));
            header.Add((byte)payload);
        }
        else
        {
            header.Add((byte)(maskBit | 127));
            for (var shift = 56; shift >= 0; shift -= 8)
            {
                header.Add((byte)((long)payload >> shift));
            }
        }

        if (masked)
        {
            header.AddRange([1, 2, 3, 4]);
        }

        return [.. header, .. new byte[payload]];
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(5, true)]
    [InlineData(125, false)]
    [InlineData(126, true)]
    [InlineData(70_000, false)]
    [InlineData(70_000, true)]
    public void Boundaries_are_found_after_each_frame_whatever_the_length_encoding(int payload, bool masked)
    {
        var frame = Frame(payload, masked);
        var tracker = new WebSocketFrameTracker();
        Assert.True(tracker.AtBoundary);

        // Byte by byte: never at a boundary inside the frame, at one right after it.
        for (var i = 0; i < frame.Length; i++)
        {
            tracker.Advance(frame.AsSpan(i, 1));
            Assert.Equal(i == frame.Length - 1, tracker.AtBoundary);
        }

        // Two frames in one read, then one split mid-header.
        var two = frame.Concat(Frame(3, masked)).ToArray();
        tracker.Advance(two);
        Assert.True(tracker.AtBoundary);
        var next = Frame(payload, masked);
        tracker.Advance(next.AsSpan(0, 1));
        Assert.False(tracker.AtBoundary);
        tracker.Advance(next.AsSpan(1));
        Assert.True(tracker.AtBoundary);
    }

    [Fact]
    public void A_length_with_the_top_bit_set_gives_up_for_good()
    {
        var tracker = new WebSocketFrameTracker();
        tracker.Advance([0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1]);
        Assert.True(tracker.Lost);
        Assert.False(tracker.AtBoundary);
        tracker.Advance(Frame(2, false));
        Assert.False(tracker.AtBoundary);
    }
}
