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

    /// <summary>Closes the connection. Idempotent; never throws.</summary>
    void Close(ConnectionCloseReason reason);
}
