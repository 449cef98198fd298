using System.Buffers.Binary;

namespace Tether.FunctionalTests.Infrastructure;

/// <summary>One HTTP/2 frame as read off the wire (RFC 9113 §4.1); the stream id without its reserved bit.</summary>
internal readonly record struct Http2FrameRead(byte Type, byte Flags, int StreamId, byte[] Payload);

/// <summary>HTTP/2 frame types, flags and the few encodings the raw test peers write (RFC 9113, RFC 7541).</summary>
internal static class Http2Frame
{
    public const byte Data = 0x0;
    public const byte Headers = 0x1;
    public const byte Priority = 0x2;
    public const byte RstStream = 0x3;
    public const byte Settings = 0x4;
    public const byte Ping = 0x6;
    public const byte GoAway = 0x7;
    public const byte WindowUpdate = 0x8;
    public const byte Continuation = 0x9;
    public const byte EndStream = 0x1;
    public const byte Ack = 0x1;
    public const byte EndHeaders = 0x4;

    public static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    public static byte[] Build(byte type, byte flags, int streamId, byte[] payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), streamId);
        payload.CopyTo(frame, 9);
        return frame;
    }

    /// <summary>GOAWAY with <paramref name="lastStreamId"/> and <paramref name="errorCode"/> (0 = NO_ERROR).</summary>
    public static byte[] BuildGoAway(int lastStreamId, int errorCode = 0)
    {
        var payload = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(payload, lastStreamId);
        BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(4), errorCode);
        return Build(GoAway, 0, 0, payload);
    }

    /// <summary>An HPACK string literal, not Huffman-coded: 7-bit prefix length, H = 0 (RFC 7541 §5.1, §5.2).</summary>
    public static void WriteString(List<byte> block, byte[] bytes)
    {
        var length = bytes.Length;
        if (length < 127)
        {
            block.Add((byte)length);
        }
        else
        {
            block.Add(127);
            length -= 127;
            while (length >= 128)
            {
                block.Add((byte)((length & 0x7F) | 0x80));
                length >>= 7;
            }

            block.Add((byte)length);
        }

        block.AddRange(bytes);
    }
}

/// <summary>Reads whole HTTP/2 frames from a stream; null at the end of the stream or on an I/O error.</summary>
internal sealed class Http2FrameReader(Stream stream)
{
    private byte[] _buffer = new byte[64 * 1024];
    private int _count;

    public async Task<Http2FrameRead?> ReadAsync(CancellationToken cancellationToken)
    {
        if (!await FillAsync(9, cancellationToken))
        {
            return null;
        }

        var length = (_buffer[0] << 16) | (_buffer[1] << 8) | _buffer[2];
        if (!await FillAsync(9 + length, cancellationToken))
        {
            return null;
        }

        var frame = new Http2FrameRead(_buffer[3], _buffer[4], BinaryPrimitives.ReadInt32BigEndian(_buffer.AsSpan(5)) & 0x7FFFFFFF, _buffer.AsSpan(9, length).ToArray());
        _buffer.AsSpan(9 + length, _count - 9 - length).CopyTo(_buffer);
        _count -= 9 + length;
        return frame;
    }

    /// <summary>Reads exactly <paramref name="length"/> bytes that are not a frame (a connection preface).</summary>
    public async Task<byte[]?> ReadBytesAsync(int length, CancellationToken cancellationToken)
    {
        if (!await FillAsync(length, cancellationToken))
        {
            return null;
        }

        var bytes = _buffer.AsSpan(0, length).ToArray();
        _buffer.AsSpan(length, _count - length).CopyTo(_buffer);
        _count -= length;
        return bytes;
    }

    private async Task<bool> FillAsync(int wanted, CancellationToken cancellationToken)
    {
        if (_buffer.Length < wanted)
        {
            Array.Resize(ref _buffer, wanted);
        }

        while (_count < wanted)
        {
            int n;
            try
            {
                n = await stream.ReadAsync(_buffer.AsMemory(_count), cancellationToken);
            }
            catch (IOException)
            {
                return false;
            }

            if (n == 0)
            {
                return false;
            }

            _count += n;
        }

        return true;
    }
}
