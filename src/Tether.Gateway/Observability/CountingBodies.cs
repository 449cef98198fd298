using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http.Features;

namespace Tether.Gateway.Observability;

/// <summary>
/// The response body as Kestrel gives it, counting the bytes written through its <see cref="PipeWriter"/>
/// (everything Tether writes: proxied bodies and its own error texts). Put in place of Kestrel's feature only
/// while the access log is on.
/// </summary>
internal sealed class CountingResponseBody(IHttpResponseBodyFeature inner) : PipeWriter, IHttpResponseBodyFeature
{
    private readonly PipeWriter _writer = inner.Writer;

    public long Bytes { get; private set; }

    public Stream Stream => inner.Stream;

    public PipeWriter Writer => this;

    public override bool CanGetUnflushedBytes => _writer.CanGetUnflushedBytes;

    public override long UnflushedBytes => _writer.UnflushedBytes;

    public override void Advance(int bytes)
    {
        Bytes += bytes;
        _writer.Advance(bytes);
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => _writer.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => _writer.GetSpan(sizeHint);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => _writer.FlushAsync(cancellationToken);

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        Bytes += source.Length;
        return _writer.WriteAsync(source, cancellationToken);
    }

    public override void CancelPendingFlush() => _writer.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => _writer.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => _writer.CompleteAsync(exception);

    public void DisableBuffering() => inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        inner.SendFileAsync(path, offset, count, cancellationToken);

    Task IHttpResponseBodyFeature.CompleteAsync() => inner.CompleteAsync();
}

/// <summary>
/// The request body as Kestrel gives it, counting the bytes consumed through its <see cref="PipeReader"/>.
/// Put in place of Kestrel's feature only while the access log is on, and only for a request with a body.
/// </summary>
internal sealed class CountingRequestBody(PipeReader inner) : PipeReader, IRequestBodyPipeFeature
{
    private System.Buffers.ReadOnlySequence<byte> _last;
    private bool _read;

    public long Bytes { get; private set; }

    public PipeReader Reader => this;

    public override bool TryRead(out ReadResult result)
    {
        if (!inner.TryRead(out result))
        {
            return false;
        }

        Keep(result);
        return true;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        var read = inner.ReadAsync(cancellationToken);
        if (!read.IsCompletedSuccessfully)
        {
            return AwaitReadAsync(read);
        }

        var result = read.Result;
        Keep(result);
        return new ValueTask<ReadResult>(result);
    }

    public override void AdvanceTo(SequencePosition consumed)
    {
        Count(consumed);
        inner.AdvanceTo(consumed);
    }

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        Count(consumed);
        inner.AdvanceTo(consumed, examined);
    }

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> AwaitReadAsync(ValueTask<ReadResult> read)
    {
        var result = await read.ConfigureAwait(false);
        Keep(result);
        return result;
    }

    private void Keep(ReadResult result)
    {
        _last = result.Buffer;
        _read = true;
    }

    // What the reader consumed of the buffer it was last given.
    private void Count(SequencePosition consumed)
    {
        if (_read)
        {
            Bytes += _last.Slice(_last.Start, consumed).Length;
            _read = false;
            _last = default;
        }
    }
}
