namespace Tether.Upstream.Tunnels;

/// <summary>
/// Follows the frame structure of one direction of a WebSocket stream (RFC 6455 section 5.2) as bytes pass, only to
/// know when the stream is between two frames, where a control frame may be put in. It does not validate beyond
/// what it needs: a header it cannot follow (a 64-bit length with the top bit set) makes it give up for good, and
/// then nothing is ever put in.
/// </summary>
public struct WebSocketFrameTracker
{
    // Header bytes still expected: -1 = at a frame boundary (nothing of the next header seen yet).
    private int _headerNeeded;
    private int _headerSeen;
    private ulong _payloadRemaining;
    private bool _masked;
    private byte _lengthCode;
    private ulong _extendedLength;

    public WebSocketFrameTracker()
    {
        _headerNeeded = -1;
    }

    /// <summary>Between two frames: a control frame written now cannot split another.</summary>
    public readonly bool AtBoundary => !Lost && _headerNeeded == -1 && _payloadRemaining == 0;

    /// <summary>The stream did not parse as WebSocket frames; nothing may be put in any more.</summary>
    public bool Lost { get; private set; }

    public void Advance(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty && !Lost)
        {
            if (_payloadRemaining > 0)
            {
                var skip = (int)Math.Min(_payloadRemaining, (ulong)bytes.Length);
                _payloadRemaining -= (ulong)skip;
                bytes = bytes[skip..];
                continue;
            }

            var b = bytes[0];
            bytes = bytes[1..];
            if (_headerNeeded == -1)
            {
                // First byte: FIN, RSV, opcode. The second tells how many more header bytes follow.
                _headerNeeded = 1;
                _headerSeen = 1;
                continue;
            }

            _headerSeen++;
            if (_headerSeen == 2)
            {
                _masked = (b & 0x80) != 0;
                _lengthCode = (byte)(b & 0x7F);
                _extendedLength = 0;
                _headerNeeded = (_lengthCode == 126 ? 2 : _lengthCode == 127 ? 8 : 0) + (_masked ? 4 : 0);
            }
            else
            {
                var extendedBytes = _lengthCode == 126 ? 2 : _lengthCode == 127 ? 8 : 0;
                if (_headerSeen <= 2 + extendedBytes)
                {
                    _extendedLength = (_extendedLength << 8) | b;
                }

                _headerNeeded--;
            }

            if (_headerNeeded == 0)
            {
                var length = _lengthCode < 126 ? _lengthCode : _extendedLength;
                if (_lengthCode == 127 && (length >> 63) != 0)
                {
                    Lost = true;
                    return;
                }

                _payloadRemaining = length;
                _headerNeeded = -1;
            }
        }
    }
}
