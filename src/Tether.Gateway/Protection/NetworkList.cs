using System.Net;
using Tether.Configuration;

namespace Tether.Gateway.Protection;

/// <summary>A set of networks from the config (trustedProxies, proxyProtocol.trustedNetworks), already validated.</summary>
internal sealed class NetworkList
{
    private readonly IPNetwork[] _networks;

    public NetworkList(IReadOnlyList<string> cidrs)
    {
        _networks = new IPNetwork[cidrs.Count];
        for (var i = 0; i < cidrs.Count; i++)
        {
            if (!CidrParser.TryParse(cidrs[i], out _networks[i], out var error))
            {
                throw new ArgumentException($"'{cidrs[i]}': {error}", nameof(cidrs));
            }
        }
    }

    public bool IsEmpty => _networks.Length == 0;

    public bool Contains(IPAddress? address)
    {
        if (address is null)
        {
            return false;
        }

        address = ClientAddress.Normalize(address);
        foreach (var network in _networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }
}

internal static class ClientAddress
{
    /// <summary>An IPv4 client on a dual-stack listener arrives as ::ffff:a.b.c.d; limits and network lists
    /// must see the same client as a.b.c.d either way.</summary>
    public static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
