namespace Tether.Doctor.Http;

/// <summary>
/// Buffered reads from a connection's stream. At most one read is outstanding, and it may outlive the call
/// that started it: the idle watcher leaves a read pending while the connection sits idle, and the next
/// response is read through that same read, so a FIN and a response can never race on two reads.
/// </summary>
internal sealed class ReceiveBuffer(Stream stream, TimeProvider timeProvider)
{
    private const int MaxBufferBytes = 1024 * 1024;

    private byte[] _buffer = new byte[16 * 1024];

    // Unconsumed bytes are _buffer[_start.._end]; a pending read writes at _end, so positions only move
    // back to 0 while no read is pending.
    private int _start;
    private int _end;

    // The outstanding read, if any; its result is the byte count (0 = end of stream or reset).
    private Task<int>? _pending;

    public ReadOnlySpan<byte> Data => _buffer.AsSpan(_start, _end - _start);

    public int Count => _end - _start;

    /// <summary>The read ended with a reset (or another transport error) rather than a clean FIN.</summary>
    public bool PeerReset { get; private set; }

    /// <summary>When the last read completed (TimeProvider timestamp).</summary>
    public long LastReadTimestamp { get; private set; }

    public bool Ended { get; private set; }

    public void Consume(int count)
    {
        _start += count;
        if (_start == _end && _pending is null)
        {
            _start = 0;
            _end = 0;
        }
    }

    /// <summary>Starts a read if none is outstanding and returns it.</summary>
    public Task<int> StartRead()
    {
        // A read that completed unobserved (its bytes arrived before the parser asked for them) has already
        // put its bytes in the buffer and its end-of-stream in Ended; handing it out again would replay an
        // old event, so it is dropped here.
        if (_pending is { IsCompleted: true })
        {
            _pending = null;
        }

        return _pending ??= ReadCoreAsync();
    }

    /// <summary>Waits for more bytes; returns 0 at the end of the stream.</summary>
    public async ValueTask<int> FillAsync(CancellationToken cancellationToken)
    {
        var count = await StartRead().WaitAsync(cancellationToken).ConfigureAwait(false);
        _pending = null;
        return count;
    }

    private async Task<int> ReadCoreAsync()
    {
        if (Ended)
        {
            // Keep LastReadTimestamp: it is when the end of the stream was first seen.
            return 0;
        }

        MakeRoom();
        int count;
        try
        {
            count = await stream.ReadAsync(_buffer.AsMemory(_end)).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            // A reset is a close as far as the doctor is concerned; keep the difference for the report.
            PeerReset = true;
            count = 0;
        }

        LastReadTimestamp = timeProvider.GetTimestamp();
        if (count == 0)
        {
            Ended = true;
        }

        _end += count;
        return count;
    }

    private void MakeRoom()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= MaxBufferBytes)
            {
                throw new InvalidDataException("the response header section is larger than 1 MiB");
            }

            Array.Resize(ref _buffer, _buffer.Length * 2);
        }
    }
}
