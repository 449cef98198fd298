using System.Net;

namespace Tether.Gateway.Protection;

/// <summary>
/// Counts open client connections over all listeners and per client address (Kestrel's ResourceCounter, plus
/// the per-IP table Kestrel lacks: aspnetcore#10645's sibling, nginx limit_conn). A limit of 0 = unlimited.
/// </summary>
internal sealed class ConnectionLimiter(int maxConnections, int maxConnectionsPerClient)
{
    // Connections per client address; an entry exists only while its count is above zero, so the table is
    // bounded by the open connections. Guarded by itself: the work under the lock is one lookup.
    private readonly Dictionary<IPAddress, int> _perClient = [];
    private long _total;

    public int MaxConnections { get; } = maxConnections;

    public int MaxConnectionsPerClient { get; } = maxConnectionsPerClient;

    public long Total => Interlocked.Read(ref _total);

    public bool TryAcquire()
    {
        if (MaxConnections <= 0)
        {
            Interlocked.Increment(ref _total);
            return true;
        }

        // Compare-and-swap so a burst cannot overshoot the cap between the check and the increment.
        while (true)
        {
            var current = Interlocked.Read(ref _total);
            if (current >= MaxConnections)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _total, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    public void Release() => Interlocked.Decrement(ref _total);

    public bool TryAcquireClient(IPAddress client)
    {
        lock (_perClient)
        {
            _perClient.TryGetValue(client, out var count);
            if (MaxConnectionsPerClient > 0 && count >= MaxConnectionsPerClient)
            {
                return false;
            }

            _perClient[client] = count + 1;
            return true;
        }
    }

    public void ReleaseClient(IPAddress client)
    {
        lock (_perClient)
        {
            if (_perClient.TryGetValue(client, out var count))
            {
                if (count <= 1)
                {
                    _perClient.Remove(client);
                }
                else
                {
                    _perClient[client] = count - 1;
                }
            }
        }
    }

    /// <summary>Open connections of one client (tests, diagnostics).</summary>
    public int ClientCount(IPAddress client)
    {
        lock (_perClient)
        {
            return _perClient.TryGetValue(client, out var count) ? count : 0;
        }
    }
}
