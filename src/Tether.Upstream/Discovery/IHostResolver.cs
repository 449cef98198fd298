using System.Net;

namespace Tether.Upstream.Discovery;

/// <summary>Host name → addresses. The seam that lets tests change "DNS" without a DNS server.</summary>
public interface IHostResolver
{
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken);
}

/// <summary>The operating system's resolver (getaddrinfo: /etc/hosts, then DNS).</summary>
public sealed class SystemHostResolver : IHostResolver
{
    public static SystemHostResolver Instance { get; } = new();

    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        Dns.GetHostAddressesAsync(host, cancellationToken);
}
