namespace Tether.Upstream.Http1;

/// <summary>
/// The bytes a new backend connection sends first (a PROXY protocol header), set by the forwarder for the
/// request that is about to acquire a connection. An async-local, because the pool opens connections
/// inside <c>AcquireAsync</c> on the requesting flow and knows nothing of clients; a destination only
/// reads it when its cluster sends PROXY headers, and such a destination keeps no idle connections, so a
/// connection that names one client never carries another client's request.
/// </summary>
public static class ConnectPreamble
{
    private static readonly AsyncLocal<ReadOnlyMemory<byte>> _current = new();

    public static ReadOnlyMemory<byte> Current
    {
        get => _current.Value;
        set => _current.Value = value;
    }
}
