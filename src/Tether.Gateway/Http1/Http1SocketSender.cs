using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace Tether.Gateway.Http1;

/// <summary>
/// A send's event args, borrowed from the engine for the length of one send, as Kestrel's SocketSender is. Socket's
/// own SendAsync(ReadOnlyMemory) keeps one such object on every socket that has ever sent (about 360 bytes with its
/// callback), so each of 5,000 idle keep-alive connections would hold one it no longer uses; borrowed, the ones
/// held are those with a send in flight.
/// </summary>
internal sealed class Http1SocketSender : SocketAsyncEventArgs, IValueTaskSource<int>
{
    private ManualResetValueTaskSourceCore<int> _source;

    public Http1SocketSender()
        : base(unsafeSuppressExecutionContextFlow: true)
    {
    }

    /// <summary>
    /// Sends every byte of <paramref name="bytes"/> (a stream socket's send completes once all are written). The
    /// caller gives this object back to its pool once the returned task has completed, not before.
    /// </summary>
    public ValueTask<int> SendAsync(Socket socket, ReadOnlyMemory<byte> bytes)
    {
        _source.Reset();
        SetBuffer(MemoryMarshal.AsMemory(bytes));
        if (socket.SendAsync(this))
        {
            return new ValueTask<int>(this, _source.Version);
        }

        var result = Result();
        SetBuffer(Memory<byte>.Empty);
        return result;
    }

    protected override void OnCompleted(SocketAsyncEventArgs e)
    {
        if (SocketError == SocketError.Success)
        {
            _source.SetResult(BytesTransferred);
        }
        else
        {
            _source.SetException(new SocketException((int)SocketError));
        }
    }

    private ValueTask<int> Result() => SocketError == SocketError.Success
        ? new ValueTask<int>(BytesTransferred)
        : ValueTask.FromException<int>(new SocketException((int)SocketError));

    int IValueTaskSource<int>.GetResult(short token)
    {
        try
        {
            return _source.GetResult(token);
        }
        finally
        {
            SetBuffer(Memory<byte>.Empty);
        }
    }

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _source.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);
}
