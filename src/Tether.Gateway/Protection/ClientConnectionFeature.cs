using System.Net;

namespace Tether.Gateway.Protection;

/// <summary>Per client connection facts decided once, when it opens, for every request on it to read.</summary>
/// <param name="Client">The client's address after the PROXY protocol, normalized (IPv4 rather than ::ffff:a.b.c.d).</param>
/// <param name="IsTrustedProxy">The peer is in downstream.trustedProxies: its X-Forwarded-For is kept and appended to.</param>
internal sealed record ClientConnectionFeature(IPAddress? Client, bool IsTrustedProxy);
