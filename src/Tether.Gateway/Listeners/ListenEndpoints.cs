using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Tether.Configuration;

namespace Tether.Gateway.Listeners;

/// <summary>Turns listener config into Kestrel listen options.</summary>
internal static class ListenEndpoints
{
    public static void Listen(KestrelServerOptions kestrel, string address, Action<ListenOptions> configure)
    {
        if (!AddressParser.TryParseHostPort(address, out var host, out var port, out var error))
        {
            throw new ArgumentException($"invalid listen address '{address}': {error}", nameof(address));
        }

        if (host is "*" or "")
        {
            kestrel.ListenAnyIP(port, configure);
        }
        else if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            kestrel.ListenLocalhost(port, configure);
        }
        else if (IPAddress.TryParse(host, out var ip))
        {
            kestrel.Listen(ip, port, configure);
        }
        else
        {
            var resolved = Dns.GetHostAddresses(host);
            if (resolved.Length == 0)
            {
                throw new ArgumentException($"listen address '{address}': host '{host}' does not resolve", nameof(address));
            }

            kestrel.Listen(resolved[0], port, configure);
        }
    }

    public static HttpProtocols ToKestrel(ListenerProtocols protocols) => protocols switch
    {
        ListenerProtocols.Http1 => HttpProtocols.Http1,
        ListenerProtocols.Http2 => HttpProtocols.Http2,
        _ => HttpProtocols.Http1AndHttp2,
    };

    public static void UseTls(ListenOptions listen, TlsConfig tls)
    {
        var certificate = X509Certificate2.CreateFromPemFile(tls.Certificate, tls.Key);
        listen.UseHttps(https =>
        {
            https.ServerCertificate = certificate;
            https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
        });
    }
}
