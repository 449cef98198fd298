using Microsoft.AspNetCore.Http;
using Tether.Configuration;
using Tether.Upstream.LoadBalancing;

namespace Tether.Gateway.Forwarding;

/// <summary>The consistentHash key of a request (client IP, a header or a cookie), hashed without allocating.</summary>
internal static class AffinityKey
{
    /// <summary>False when the request does not carry the key (no header, no cookie): the policy then draws at random.</summary>
    public static bool TryHash(HttpContext context, HashKey key, out ulong hash)
    {
        hash = 0;
        switch (key.Source)
        {
            case HashKeySource.ClientIp:
                if (context.Connection.RemoteIpAddress is not { } address)
                {
                    return false;
                }

                Span<byte> bytes = stackalloc byte[16];
                if (!address.TryWriteBytes(bytes, out var written))
                {
                    return false;
                }

                hash = StableHash.Of(bytes[..written]);
                return true;

            case HashKeySource.Header:
                var header = context.Request.Headers[key.Name];
                if (header.Count == 0 || string.IsNullOrEmpty(header[0]))
                {
                    return false;
                }

                hash = StableHash.Of(header[0].AsSpan());
                return true;

            default:
                if (!context.Request.Cookies.TryGetValue(key.Name, out var cookie) || string.IsNullOrEmpty(cookie))
                {
                    return false;
                }

                hash = StableHash.Of(cookie.AsSpan());
                return true;
        }
    }
}
