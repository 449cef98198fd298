using System.Net;

namespace Tether.Client;

/// <summary>
/// The content of a response that came over HTTP/2: SocketsHttpHandler's own, with its headers, read through a stream
/// that ends the exchange's bookkeeping (<see cref="TetherHttpHandler.StreamEnd"/>: least-connections' in-flight count)
/// when the body has been read to its end or the content is disposed. Trailers stay on the response
/// (<see cref="HttpResponseMessage.TrailingHeaders"/>), where SocketsHttpHandler puts them.
/// </summary>
internal sealed class Http2ResponseContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly TetherHttpHandler.StreamEnd _end;

    public Http2ResponseContent(HttpContent inner, TetherHttpHandler.StreamEnd end)
    {
        _inner = inner;
        _end = end;
        foreach (var header in inner.Headers.NonValidated)
        {
            Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        try
        {
            await _inner.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _end.End();
        }
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
        new EndingStream(await _inner.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), _end);

    protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken) => new EndingStream(_inner.ReadAsStream(cancellationToken), _end);

    protected override bool TryComputeLength(out long length)
    {
        // A length the server sent is in the Content-Length header, which HttpContentHeaders reads first.
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
            _end.End();
        }

        base.Dispose(disposing);
    }

    // The response body stream, ending the exchange at its end (a read of 0) or when disposed.
    private sealed class EndingStream(Stream inner, TetherHttpHandler.StreamEnd end) : ReadOnlyBodyStream
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (n == 0 && !buffer.IsEmpty)
            {
                end.End();
            }

            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = inner.Read(buffer, offset, count);
            if (n == 0 && count > 0)
            {
                end.End();
            }

            return n;
        }

        public override async Task CopyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken)
        {
            await inner.CopyToAsync(destination, bufferSize, cancellationToken).ConfigureAwait(false);
            end.End();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                end.End();
            }

            base.Dispose(disposing);
        }
    }
}
