using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Tether.Gateway.Protection;

namespace Tether.Gateway.Forwarding;

/// <summary>Who the client is for rate limits and the {clientIp} variable: the address after the PROXY protocol,
/// or, when that peer is a trusted proxy (downstream.trustedProxies), the last address its X-Forwarded-For names
/// (nginx real_ip_header X-Forwarded-For with set_real_ip_from, real_ip_recursive off).</summary>
internal static class ClientIdentity
{
    public static string? Address(HttpContext context)
    {
        var peer = RequestHeadWriter.ClientAddress(context);
        if (context.Features.Get<ClientConnectionFeature>() is not { IsTrustedProxy: true }
            || !context.Request.Headers.TryGetValue("X-Forwarded-For", out var chain) || StringValues.IsNullOrEmpty(chain))
        {
            return peer;
        }

        var last = chain[chain.Count - 1].AsSpan();
        var comma = last.LastIndexOf(',');
        var candidate = (comma < 0 ? last : last[(comma + 1)..]).Trim();
        return IPAddress.TryParse(candidate, out var address) ? ClientAddress.Normalize(address).ToString() : peer;
    }
}
