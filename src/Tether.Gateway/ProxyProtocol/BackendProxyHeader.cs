using System.Net;
using Microsoft.AspNetCore.Http;
using Tether.Configuration;

namespace Tether.Gateway.ProxyProtocol;

/// <summary>The PROXY header for a backend connection opened for this request: the client as Tether knows it
/// (after an incoming PROXY header) and the address the client connected to.</summary>
internal static class BackendProxyHeader
{
    public static byte[] For(HttpContext context, ProxyProtocolVersion version)
    {
        var connection = context.Connection;
        var source = connection.RemoteIpAddress is { } remote ? new IPEndPoint(remote, connection.RemotePort) : null;

        // Behind a load balancer the address the client dialled is the one its header named, not ours.
        var destination = context.Features.Get<ProxyProtocolFeature>()?.Header.Destination
            ?? (connection.LocalIpAddress is { } local ? new IPEndPoint(local, connection.LocalPort) : null);
        return ProxyHeaderWriter.Write(version, source, destination);
    }
}
