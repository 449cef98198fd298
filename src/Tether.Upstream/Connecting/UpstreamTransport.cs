using System.Net.Security;
using System.Net.Sockets;

namespace Tether.Upstream.Connecting;

/// <summary>An open connection to a backend: its socket, and the stream requests are written to (TLS or not).</summary>
public sealed class UpstreamTransport : IDisposable
{
    internal UpstreamTransport(Socket socket, NetworkStream network, SslStream? tls)
    {
        Socket = socket;
        Network = network;
        Tls = tls;
        IsHttp2 = tls is not null && tls.NegotiatedApplicationProtocol == SslApplicationProtocol.Http2;
    }

    public Socket Socket { get; }

    /// <summary>The socket as a stream (under <see cref="Tls"/> when there is one).</summary>
    public NetworkStream Network { get; }

    /// <summary>The TLS session, or null for cleartext.</summary>
    public SslStream? Tls { get; }

    /// <summary>What requests are written to and responses read from.</summary>
    public Stream Stream => Tls is null ? Network : Tls;

    /// <summary>TLS and the backend chose "h2" by ALPN.</summary>
    public bool IsHttp2 { get; }

    public void Dispose()
    {
        Tls?.Dispose();
        Network.Dispose();
        Socket.Dispose();
    }
}
