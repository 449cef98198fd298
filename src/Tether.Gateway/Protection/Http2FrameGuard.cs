using System.Buffers;

namespace Tether.Gateway.Protection;

/// <summary>What <see cref="Http2FrameGuard"/> found in the bytes it was shown.</summary>
internal enum Http2FrameVerdict
{
    Ok,

    /// <summary>More than maxControlFramesPerSecond frames that carry no request progress in one second.</summary>
    ControlFlood,

    /// <summary>A header block of more CONTINUATION frames, or more bytes, than any real request needs.</summary>
    HeaderBlockTooLong,
}

/// <summary>
/// Reads the 9-byte frame headers of a client's HTTP/2 byte stream (RFC 9113 §4.1), after its 24-byte preface,
/// and skips every payload (only the pad-length byte of a padded DATA or HEADERS frame is read, to tell an
/// empty frame). Counts, per one-second window, the frames that make the server work without moving a request
/// forward — the floods Kestrel has no limit for (SETTINGS and PING, each answered with an ACK; RST_STREAM,
/// PRIORITY, WINDOW_UPDATE; DATA, HEADERS and CONTINUATION with nothing in them and no END flag; frame types
/// Kestrel ignores) — and bounds each header block: at most <see cref="MaxContinuationFrames"/> CONTINUATION
/// frames and <c>2 × maxRequestHeadersSize + 16 KiB</c> of encoded bytes (Kestrel itself only bounds the
/// decoded size, so empty CONTINUATION frames or HPACK size updates cost it CPU until requestHeadersTimeout).
/// </summary>
/// <remarks>
/// A WINDOW_UPDATE is what a client sends back for response bytes it received, so a fast download would look
/// like a flood: each 256 bytes written to the client in the current or the previous second pays for one
/// WINDOW_UPDATE before the rest count (Envoy's max_inbound_window_update_frames_per_data_frame_sent has the
/// same purpose). Credit older than that lapses, so a long download does not bank an allowance for a flood.
/// One guard per connection; <see cref="Scan"/> is called by the connection's single reader, <see cref="OnWritten"/>
/// by whichever thread Kestrel writes on (its writes are serialized).
/// </remarks>
internal sealed class Http2FrameGuard
{
    /// <summary>CONTINUATION frames one header block may have. Encoders fill frames to SETTINGS_MAX_FRAME_SIZE
    /// (16 KiB at least), so a block within the header limits needs a handful.</summary>
    internal const int MaxContinuationFrames = 64;

    /// <summary>Bytes written to the client that pay for one WINDOW_UPDATE.</summary>
    internal const int WindowUpdateCreditBytes = 256;

    private const int PrefaceLength = 24;
    private const int FrameHeaderLength = 9;

    private const byte Data = 0x0;
    private const byte Headers = 0x1;
    private const byte Priority = 0x2;
    private const byte RstStream = 0x3;
    private const byte Settings = 0x4;
    private const byte PushPromise = 0x5;
    private const byte Ping = 0x6;
    private const byte GoAway = 0x7;
    private const byte WindowUpdate = 0x8;
    private const byte Continuation = 0x9;

    private const byte EndStream = 0x1;
    private const byte EndHeaders = 0x4;
    private const byte Padded = 0x8;
    private const byte PriorityFlag = 0x20;

    private readonly int _maxControlFrames;
    private readonly long _maxHeaderBlockBytes;
    private readonly long _windowTicks;

    // Parser: bytes of payload (or preface) still to skip; a frame header being assembled across reads; a
    // padded frame whose pad-length byte has not arrived yet.
    private readonly byte[] _header = new byte[FrameHeaderLength];
    private long _skip = PrefaceLength;
    private int _headerBytes;
    private bool _awaitingPadLength;
    private byte _pendingType;
    private byte _pendingFlags;
    private int _pendingLength;

    // The header block in progress (HEADERS without END_HEADERS, then CONTINUATION frames).
    private bool _inHeaderBlock;
    private int _continuations;
    private long _headerBlockBytes;

    // The rate: frames counted in the window that started at _windowStart.
    private long _windowStart;
    private bool _started;
    private int _count;

    // WINDOW_UPDATE credit: bytes written to the client (Kestrel's writer adds); credit below _creditUsed is spent
    // or has lapsed; _writtenAtWindowStart is where the current window's earnings begin.
    private long _written;
    private long _creditUsed;
    private long _writtenAtWindowStart;

    public Http2FrameGuard(int maxControlFramesPerSecond, int maxRequestHeadersSize, long timestampFrequency)
    {
        _maxControlFrames = maxControlFramesPerSecond;
        _maxHeaderBlockBytes = (2L * maxRequestHeadersSize) + (16 * 1024);
        _windowTicks = timestampFrequency;
    }

    /// <summary>Frames counted in the current window (for tests and the log line).</summary>
    public int Count => _count;

    /// <summary>CONTINUATION frames in the header block in progress.</summary>
    public int Continuations => _continuations;

    /// <summary>Kestrel handed <paramref name="bytes"/> bytes to the client's transport.</summary>
    public void OnWritten(int bytes) => Volatile.Write(ref _written, _written + bytes);

    /// <summary>Looks at bytes the client sent that this guard has not seen before, in order.</summary>
    public Http2FrameVerdict Scan(in ReadOnlySequence<byte> bytes, long timestamp)
    {
        RollWindow(timestamp);
        if (bytes.IsSingleSegment)
        {
            return Scan(bytes.FirstSpan);
        }

        foreach (var segment in bytes)
        {
            var verdict = Scan(segment.Span);
            if (verdict != Http2FrameVerdict.Ok)
            {
                return verdict;
            }
        }

        return Http2FrameVerdict.Ok;
    }

    private void RollWindow(long timestamp)
    {
        if (!_started)
        {
            _started = true;
            _windowStart = timestamp;
            _writtenAtWindowStart = Volatile.Read(ref _written);
            return;
        }

        if (timestamp - _windowStart < _windowTicks)
        {
            return;
        }

        // Credit earned before the previous window started lapses; what the previous window earned carries over
        // (the client's WINDOW_UPDATEs trail the data by a round trip).
        _creditUsed = Math.Max(_creditUsed, _writtenAtWindowStart);
        _writtenAtWindowStart = Volatile.Read(ref _written);
        _windowStart = timestamp;
        _count = 0;
    }

    private Http2FrameVerdict Scan(ReadOnlySpan<byte> span)
    {
        var i = 0;
        while (i < span.Length)
        {
            if (_skip > 0)
            {
                var n = (int)Math.Min(_skip, span.Length - i);
                i += n;
                _skip -= n;
                continue;
            }

            if (_awaitingPadLength)
            {
                _awaitingPadLength = false;
                var padLength = span[i++];
                _skip = _pendingLength - 1;
                var verdict = OnFrame(_pendingType, _pendingFlags, _pendingLength, padLength);
                if (verdict != Http2FrameVerdict.Ok)
                {
                    return verdict;
                }

                continue;
            }

            ReadOnlySpan<byte> header;
            if (_headerBytes == 0 && span.Length - i >= FrameHeaderLength)
            {
                header = span.Slice(i, FrameHeaderLength);
                i += FrameHeaderLength;
            }
            else
            {
                var n = Math.Min(FrameHeaderLength - _headerBytes, span.Length - i);
                span.Slice(i, n).CopyTo(_header.AsSpan(_headerBytes));
                _headerBytes += n;
                i += n;
                if (_headerBytes < FrameHeaderLength)
                {
                    break;
                }

                _headerBytes = 0;
                header = _header;
            }

            var length = (header[0] << 16) | (header[1] << 8) | header[2];
            var type = header[3];
            var flags = header[4];
            if ((flags & Padded) != 0 && type is Data or Headers && length > 0)
            {
                _awaitingPadLength = true;
                _pendingType = type;
                _pendingFlags = flags;
                _pendingLength = length;
                continue;
            }

            _skip = length;
            var result = OnFrame(type, flags, length, padLength: 0);
            if (result != Http2FrameVerdict.Ok)
            {
                return result;
            }
        }

        return Http2FrameVerdict.Ok;
    }

    private Http2FrameVerdict OnFrame(byte type, byte flags, int length, int padLength)
    {
        switch (type)
        {
            case Data:
                {
                    var content = length - ((flags & Padded) != 0 ? 1 + padLength : 0);
                    return content <= 0 && (flags & EndStream) == 0 ? Counted() : Http2FrameVerdict.Ok;
                }

            case Headers:
                {
                    var content = length - ((flags & Padded) != 0 ? 1 + padLength : 0) - ((flags & PriorityFlag) != 0 ? 5 : 0);
                    _inHeaderBlock = (flags & EndHeaders) == 0;
                    _continuations = 0;
                    _headerBlockBytes = Math.Max(0, content);
                    return content <= 0 && (flags & EndStream) == 0 ? Counted() : Http2FrameVerdict.Ok;
                }

            case Continuation:
                if (_inHeaderBlock)
                {
                    _continuations++;
                    _headerBlockBytes += length;
                    if (_continuations > MaxContinuationFrames || _headerBlockBytes > _maxHeaderBlockBytes)
                    {
                        return Http2FrameVerdict.HeaderBlockTooLong;
                    }

                    _inHeaderBlock = (flags & EndHeaders) == 0;
                }

                // A CONTINUATION outside a block is Kestrel's connection error to raise.
                return length == 0 && (flags & EndHeaders) == 0 ? Counted() : Http2FrameVerdict.Ok;

            case WindowUpdate:
                {
                    // RollWindow raised _creditUsed to where the previous window started: older credit has lapsed.
                    if (Volatile.Read(ref _written) - _creditUsed >= WindowUpdateCreditBytes)
                    {
                        _creditUsed += WindowUpdateCreditBytes;
                        return Http2FrameVerdict.Ok;
                    }

                    return Counted();
                }

            case Priority or RstStream or Settings or Ping:
                return Counted();

            case PushPromise or GoAway:
                // PUSH_PROMISE from a client is Kestrel's connection error; GOAWAY ends the connection.
                return Http2FrameVerdict.Ok;

            default:
                // Types Kestrel ignores (RFC 9113 §4.1 says it must): nothing but work.
                return Counted();
        }
    }

    private Http2FrameVerdict Counted()
    {
        if (_maxControlFrames <= 0)
        {
            return Http2FrameVerdict.Ok;
        }

        return ++_count > _maxControlFrames ? Http2FrameVerdict.ControlFlood : Http2FrameVerdict.Ok;
    }
}
