namespace Tether.Upstream.Pooling;

/// <summary>What the generic pool needs from a connection; it knows nothing of HTTP.</summary>
public interface IPooledConnection
{
    /// <summary>Bookkeeping the pool uses to decide expiry. Owned by whoever holds the connection.</summary>
    ConnectionLifetime Lifetime { get; }

    /// <summary>
    /// Called on an idle connection just before reuse. Returns null if the peer has not closed it and has
    /// sent nothing; otherwise why it must be discarded. Must not block.
    /// </summary>
    ConnectionCloseReason? ProbeIdle();

    /// <summary>
    /// Called on an idle connection the pool is handing to a request (the sweep calls <see cref="ProbeIdle"/>): the
    /// same verdict, but the connection may start the request's first read to find it out (Http1Connection does, so
    /// the check costs no syscall of its own). Must not block.
    /// </summary>
    ConnectionCloseReason? ProbeBeforeUse() => ProbeIdle();

    /// <summary>The managed thread its socket's completions run on (its socket engine), or 0 if not known yet.
    /// The pool hands a request a connection homed on the request's own thread when it has one.</summary>
    int HomeThreadId => 0;

    /// <summary>Closes the connection. Idempotent; never throws.</summary>
    void Close(ConnectionCloseReason reason);
}
