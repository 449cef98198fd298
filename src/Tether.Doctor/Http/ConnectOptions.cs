using System.Net;
using System.Net.Security;

namespace Tether.Doctor.Http;

/// <summary>How the doctor opens a connection.</summary>
public sealed record ConnectOptions
{
    /// <summary>Accept any server certificate (curl -k); the validation error is still reported.</summary>
    public bool Insecure { get; init; }

    /// <summary>ALPN offered on TLS connections: http/1.1 only, because the doctor speaks HTTP/1.1 on them;
    /// the HTTP/2 probe offers h2 as well.</summary>
    public IReadOnlyList<SslApplicationProtocol> ApplicationProtocols { get; init; } = [SslApplicationProtocol.Http11];

    /// <summary>Addresses resolved earlier; null = resolve (and time) DNS on this connection.</summary>
    public IReadOnlyList<IPAddress>? Addresses { get; init; }

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
