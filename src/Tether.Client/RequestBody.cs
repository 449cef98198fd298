using System.Buffers;
using Tether.Upstream;
using Tether.Upstream.Http1;

namespace Tether.Client;

/// <summary>
/// Streams a request's content to the connection: each write the content makes goes out before the next (a
/// content that produces its bytes slowly is sent as they come), framed by Content-Length or chunked. The head waits
/// in the connection's output and leaves with the first body bytes.
/// </summary>
internal sealed class RequestBody : Stream
{
    private readonly Http1Connection _connection;

    // The declared length, or RequestHead.Chunked.
    private readonly long _length;
    private long _written;
    private bool _headSent;

    private RequestBody(Http1Connection connection, long length)
    {
        _connection = connection;
        _length = length;
    }

    /// <summary>Whether <paramref name="content"/> can be serialized again for a retry (its bytes are held in memory).</summary>
    public static bool IsReplayable(HttpContent? content) => content is null or ByteArrayContent or ReadOnlyMemoryContent;

    /// <exception cref="UpstreamException">Writing to the server failed.</exception>
    /// <exception cref="HttpRequestException">The content failed, or wrote more or fewer bytes than its Content-Length.</exception>
    public static async ValueTask SendAsync(Http1Connection connection, HttpContent content, long length, CancellationToken cancellationToken)
    {
        var body = new RequestBody(connection, length);
        try
        {
            await content.CopyToAsync(body, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not UpstreamException and not HttpRequestException && !(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            throw new HttpRequestException(HttpRequestError.Unknown, $"Error while copying content to a stream: {ex.Message}", ex);
        }

        if (length == RequestHead.Chunked)
        {
            Http1RequestWriter.WriteLastChunk(connection.Output);
        }
        else if (body._written != length)
        {
            throw new HttpRequestException($"The request content wrote {body._written} bytes but its Content-Length is {length}.");
        }

        await connection.FlushAsync(body._headSent ? UpstreamPhase.SendBody : UpstreamPhase.SendRequest).ConfigureAwait(false);
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return;
        }

        var output = _connection.Output;
        if (_length == RequestHead.Chunked)
        {
            Http1RequestWriter.WriteChunk(output, new System.Buffers.ReadOnlySequence<byte>(buffer));
        }
        else
        {
            if (_written + buffer.Length > _length)
            {
                throw new HttpRequestException($"The request content would write more than its Content-Length of {_length} bytes.");
            }

            output.Write(buffer.Span);
        }

        _written += buffer.Length;

        // The last bytes of a known length wait for the final flush: a small body leaves with its head in one send.
        if (_length != _written)
        {
            await _connection.FlushAsync(_headSent ? UpstreamPhase.SendBody : UpstreamPhase.SendRequest).ConfigureAwait(false);
            _headSent = true;
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Write(ReadOnlySpan<byte> buffer) => WriteAsync(buffer.ToArray()).AsTask().GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
