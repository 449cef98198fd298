using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Etcdserverpb;
using Grpc.Core;
using Grpc.Net.Client;
using Tether.Configuration;

namespace Tether.Gateway.Reload;

/// <summary>
/// How Tether talks to etcd, for the config source (--config etcd://…) and destinationsFrom (the etcd section)
/// alike: one gRPC channel per endpoint, TLS verified against a CA file (or the system store) with an optional
/// client certificate (etcd --client-cert-auth), and etcd's user/password auth (a token per call's metadata).
/// </summary>
internal static class EtcdChannels
{
    public static GrpcChannel[] Create(EtcdLocation location, int? maxReceiveMessageSize = null) =>
        [.. location.Endpoints.Select(e => GrpcChannel.ForAddress(e, new GrpcChannelOptions
        {
            HttpHandler = CreateHandler(location),
            MaxReceiveMessageSize = maxReceiveMessageSize ?? 4 * 1024 * 1024,
        }))];

    /// <summary>The etcd section of a config (destinationsFrom) as a location (no prefix).</summary>
    public static EtcdLocation FromConfig(EtcdConfig etcd)
    {
        var scheme = etcd.Tls is null ? "http" : "https";
        return new EtcdLocation([.. etcd.Endpoints.Select(e => new Uri($"{scheme}://{e}"))], "/")
        {
            User = etcd.Username,
            Password = etcd.Password,
            CaFile = etcd.Tls?.CaFile,
            CertificateFile = etcd.Tls?.Certificate,
            KeyFile = etcd.Tls?.Key,
        };
    }

    /// <summary>etcd's auth: a token for <paramref name="channel"/>, sent as the "token" header; null without a user.
    /// Simple tokens expire when unused (etcd --auth-token-ttl, 5 min): every (re)connect asks for a new one.</summary>
    public static async Task<Metadata?> AuthenticateAsync(GrpcChannel channel, EtcdLocation location, CancellationToken cancellationToken)
    {
        if (location.User is null)
        {
            return null;
        }

        var response = await new Auth.AuthClient(channel)
            .AuthenticateAsync(new AuthenticateRequest { Name = location.User, Password = location.Password ?? "" }, cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        return new Metadata { { "token", response.Token } };
    }

    private static SocketsHttpHandler CreateHandler(EtcdLocation location)
    {
        var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, ConnectTimeout = TimeSpan.FromSeconds(5) };
        if (location.CaFile is null && location.CertificateFile is null)
        {
            return handler;
        }

        var options = new SslClientAuthenticationOptions { CertificateRevocationCheckMode = X509RevocationMode.NoCheck };
        if (location.CertificateFile is { } certificate && location.KeyFile is { } key)
        {
            options.ClientCertificates = [X509Certificate2.CreateFromPemFile(certificate, key)];
        }

        if (location.CaFile is { } caFile)
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(caFile);
            options.RemoteCertificateValidationCallback = (_, presented, _, errors) =>
            {
                // The name must match (etcd's certificate for the endpoint's host); the chain is checked against the
                // CA file alone, not the system store.
                if (presented is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(roots);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                using var leaf = new X509Certificate2(presented);
                return chain.Build(leaf);
            };
        }

        handler.SslOptions = options;
        return handler;
    }
}
