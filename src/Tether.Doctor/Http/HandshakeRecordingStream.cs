namespace Tether.Doctor.Http;

/// <summary>
/// Passes bytes through to the socket stream and keeps a copy of the first bytes each way, so the TLS
/// handshake (ClientHello, ServerHello) can be read after SslStream is done with it. SslStream does not say
/// whether a session was resumed; the hellos do.
/// </summary>
internal sealed class HandshakeRecordingStream(Stream inner) : Stream
{
    private const int MaxRecordedBytes = 64 * 1024;

    private readonly MemoryStream _written = new();
    private readonly MemoryStream _read = new();
    private bool _recording = true;

    public ReadOnlyMemory<byte> WrittenBytes => _written.GetBuffer().AsMemory(0, (int)_written.Length);

    public ReadOnlyMemory<byte> ReadBytes => _read.GetBuffer().AsMemory(0, (int)_read.Length);

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public void StopRecording() => _recording = false;

    public override int Read(byte[] buffer, int offset, int count)
    {
        var n = inner.Read(buffer, offset, count);
        Record(_read, buffer.AsSpan(offset, n));
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Record(_read, buffer.Span[..n]);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        Record(_written, buffer.AsSpan(offset, count));
        inner.Write(buffer, offset, count);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Record(_written, buffer.Span);
        return inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            _written.Dispose();
            _read.Dispose();
        }

        base.Dispose(disposing);
    }

    private void Record(MemoryStream copy, ReadOnlySpan<byte> bytes)
    {
        if (_recording && copy.Length < MaxRecordedBytes)
        {
            copy.Write(bytes[..(int)Math.Min(bytes.Length, MaxRecordedBytes - copy.Length)]);
        }
    }
}
