using System.Net;

namespace Tether.Upstream.Discovery;

/// <summary>Host name → addresses. The seam that lets tests change "DNS" without a DNS server.</summary>
public interface IHostResolver
{
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken);
}

/// <summary>A resolver that also says how long its answers hold (record TTLs) and reads SRV records.</summary>
public interface IRecordResolver : IHostResolver
{
    /// <summary>A and AAAA records of <paramref name="host"/>; endpoints carry port 0 and weight 0 (the configured ones apply).</summary>
    Task<DnsAnswer> ResolveAddressesAsync(string host, CancellationToken cancellationToken);

    /// <summary>SRV records of <paramref name="name"/> of the lowest priority, each target resolved to its addresses.</summary>
    Task<DnsAnswer> ResolveServiceAsync(string name, CancellationToken cancellationToken);
}

/// <summary>One address a name resolved to. <see cref="Port"/> and <see cref="Weight"/> are 0, and
/// <see cref="Target"/> null, unless an SRV record gave them (its target is the Host header the backend expects).</summary>
public readonly record struct ResolvedEndpoint(IPAddress Address, int Port, int Weight, string? Target = null);

/// <summary>What a lookup found, and the smallest TTL among the records it read (null: unknown, such as getaddrinfo's).</summary>
public sealed record DnsAnswer(IReadOnlyList<ResolvedEndpoint> Endpoints, TimeSpan? Ttl);

/// <summary>The operating system's resolver (getaddrinfo: /etc/hosts, then DNS).</summary>
public sealed class SystemHostResolver : IHostResolver
{
    public static SystemHostResolver Instance { get; } = new();

    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        Dns.GetHostAddressesAsync(host, cancellationToken);
}
