using System.Buffers;

namespace Tether.Upstream.Http1;

/// <summary>What <see cref="ChunkedDecoder.Read"/> found.</summary>
public enum ChunkedReadResult
{
    /// <summary>A slice of body data is in the out parameter.</summary>
    Data,

    /// <summary>The input ran out in the middle of framing; read more and call again.</summary>
    NeedMore,

    /// <summary>The last chunk and trailers were consumed; the body is complete.</summary>
    Done,
}

/// <summary>
/// A strict chunked-body decoder (RFC 9112 §7.1). Strictness matters: a proxy that reads chunk boundaries
/// differently from its backend can be used for smuggling. Bare LF, missing CRLF after data, non-hex sizes,
/// sizes over 2^60 and oversized extensions or trailers are all errors.
/// </summary>
public struct ChunkedDecoder
{
    private const int MaxLineBytes = 4096;
    private const int MaxTrailerBytes = 16 * 1024;

    private State _state;
    private long _remaining;
    private int _lineBytes;
    private int _sizeDigits;
    private int _trailerBytes;

    // The trailer section as received ("name: value\r\n" lines), kept for forwarding; null when there is none.
    private byte[]? _trailers;

    private enum State
    {
        Size,
        Extension,
        SizeLf,
        Data,
        DataCr,
        DataLf,
        TrailerLineStart,
        TrailerLine,
        TrailerLf,
        FinalLf,
        Done,
    }

    public readonly bool IsDone => _state == State.Done;

    /// <summary>The trailer fields after the last chunk, as received ("name: value" lines each ending in CRLF;
    /// bounded to 16 KiB); empty when there were none.</summary>
    public readonly ReadOnlySpan<byte> Trailers => _trailers is null ? default : _trailers.AsSpan(0, _trailerBytes);

    /// <summary>Consumes framing from <paramref name="reader"/> and returns the next data slice, if any.</summary>
    /// <exception cref="Http1ParseException">The chunked framing is broken.</exception>
    public ChunkedReadResult Read(ref SequenceReader<byte> reader, out ReadOnlySequence<byte> data)
    {
        data = default;
        while (true)
        {
            switch (_state)
            {
                case State.Data:
                    if (reader.End)
                    {
                        return ChunkedReadResult.NeedMore;
                    }

                    var take = Math.Min(_remaining, reader.Remaining);
                    data = reader.Sequence.Slice(reader.Position, take);
                    reader.Advance(take);
                    _remaining -= take;
                    if (_remaining == 0)
                    {
                        _state = State.DataCr;
                    }

                    return ChunkedReadResult.Data;
                case State.Done:
                    return ChunkedReadResult.Done;
            }

            if (!reader.TryRead(out var b))
            {
                return ChunkedReadResult.NeedMore;
            }

            switch (_state)
            {
                case State.Size:
                    var digit = HexValue(b);
                    if (digit >= 0)
                    {
                        if (++_sizeDigits > 15)
                        {
                            throw new Http1ParseException("chunk size too large");
                        }

                        _remaining = (_remaining << 4) | (uint)digit;
                    }
                    else if (_sizeDigits == 0)
                    {
                        throw new Http1ParseException("chunk size is not hexadecimal");
                    }
                    else if (b == (byte)';')
                    {
                        _state = State.Extension;
                        _lineBytes = 0;
                    }
                    else if (b == (byte)'\r')
                    {
                        _state = State.SizeLf;
                    }
                    else
                    {
                        throw new Http1ParseException("invalid character after chunk size");
                    }

                    break;
                case State.Extension:
                    if (b == (byte)'\r')
                    {
                        _state = State.SizeLf;
                    }
                    else if (b == (byte)'\n' || ++_lineBytes > MaxLineBytes)
                    {
                        throw new Http1ParseException(b == (byte)'\n' ? "bare LF in chunk extension" : "chunk extension too long");
                    }

                    break;
                case State.SizeLf:
                    Expect(b, (byte)'\n', "chunk size line must end with CRLF");
                    _sizeDigits = 0;
                    _state = _remaining == 0 ? State.TrailerLineStart : State.Data;
                    break;
                case State.DataCr:
                    Expect(b, (byte)'\r', "chunk data must be followed by CRLF");
                    _state = State.DataLf;
                    break;
                case State.DataLf:
                    Expect(b, (byte)'\n', "chunk data must be followed by CRLF");
                    _state = State.Size;
                    break;
                case State.TrailerLineStart:
                    if (b == (byte)'\r')
                    {
                        _state = State.FinalLf;
                    }
                    else if (b == (byte)'\n')
                    {
                        throw new Http1ParseException("bare LF in trailer");
                    }
                    else
                    {
                        CountTrailer(b);
                        _state = State.TrailerLine;
                    }

                    break;
                case State.TrailerLine:
                    CountTrailer(b);
                    if (b == (byte)'\r')
                    {
                        _state = State.TrailerLf;
                    }
                    else if (b == (byte)'\n')
                    {
                        throw new Http1ParseException("bare LF in trailer");
                    }

                    break;
                case State.TrailerLf:
                    Expect(b, (byte)'\n', "trailer line must end with CRLF");
                    CountTrailer(b);
                    _state = State.TrailerLineStart;
                    break;
                case State.FinalLf:
                    Expect(b, (byte)'\n', "chunked body must end with CRLF");
                    _state = State.Done;
                    return ChunkedReadResult.Done;
            }
        }
    }

    private void CountTrailer(byte b)
    {
        if (_trailerBytes == MaxTrailerBytes)
        {
            throw new Http1ParseException("trailers too large");
        }

        _trailers ??= new byte[256];
        if (_trailerBytes == _trailers.Length)
        {
            Array.Resize(ref _trailers, Math.Min(MaxTrailerBytes, _trailers.Length * 2));
        }

        _trailers[_trailerBytes++] = b;
    }

    private static void Expect(byte actual, byte expected, string message)
    {
        if (actual != expected)
        {
            throw new Http1ParseException(message);
        }
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
