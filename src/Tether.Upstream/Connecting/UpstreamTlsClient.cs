using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Tether.Configuration;

namespace Tether.Upstream.Connecting;

/// <summary>
/// TLS to the https:// destinations of one cluster (clusters.&lt;name&gt;.tls): the trusted CAs, the name checked,
/// the client certificate, session reuse and the lowest version. Built once per cluster; files are read then.
/// A handshake that fails says why (expired, name mismatch, unknown issuer) in an <see cref="UpstreamException"/>
/// of phase Tls.
/// </summary>
public sealed class UpstreamTlsClient
{
    private static readonly List<SslApplicationProtocol> s_http1 = [SslApplicationProtocol.Http11];
    private static readonly List<SslApplicationProtocol> s_http2 = [SslApplicationProtocol.Http2];
    private static readonly List<SslApplicationProtocol> s_either = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11];

    private readonly UpstreamTlsConfig _config;
    private readonly X509Certificate2Collection? _trusted;
    private readonly SslStreamCertificateContext? _clientCertificate;

    public UpstreamTlsClient(UpstreamTlsConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        _config = config;
        if (config.CaFile is { Length: > 0 } caFile)
        {
            _trusted = [];
            _trusted.ImportFromPemFile(caFile);
        }

        if (config.Certificate is { Length: > 0 } certificate && config.Key is { Length: > 0 } key)
        {
            var leaf = X509Certificate2.CreateFromPemFile(certificate, key);
            var chain = new X509Certificate2Collection();
            chain.ImportFromPemFile(certificate);
            var intermediates = new X509Certificate2Collection();
            foreach (var c in chain)
            {
                if (c.Thumbprint != leaf.Thumbprint)
                {
                    intermediates.Add(c);
                }
            }

            _clientCertificate = SslStreamCertificateContext.Create(leaf, intermediates, offline: true);
        }
    }

    public UpstreamTlsConfig Config => _config;

    /// <summary>The name sent by SNI and verified: tls.serverName, else the destination's host.</summary>
    public string ServerNameFor(string host) => _config.ServerName is { Length: > 0 } name ? name : host;

    internal async ValueTask<SslStream> AuthenticateAsync(Stream network, string host, AlpnOffer alpn, CancellationTokenSource timeout, CancellationToken cancellationToken)
    {
        var serverName = ServerNameFor(host);
        string? rejection = null;
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = serverName,
            ApplicationProtocols = alpn switch
            {
                AlpnOffer.Http2 => s_http2,
                AlpnOffer.Http2OrHttp1 => s_either,
                _ => s_http1,
            },
            EnabledSslProtocols = _config.MinVersion == TlsMinimumVersion.Tls13 ? SslProtocols.Tls13 : SslProtocols.Tls12 | SslProtocols.Tls13,
            AllowTlsResume = _config.SessionReuse,
            ClientCertificateContext = _clientCertificate,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
            {
                if (!_config.Verify || errors == SslPolicyErrors.None)
                {
                    return true;
                }

                rejection = Describe(errors, certificate, chain, serverName);
                return false;
            },
        };
        if (_trusted is not null)
        {
            options.CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            options.CertificateChainPolicy.CustomTrustStore.AddRange(_trusted);
        }

        var tls = new SslStream(network, leaveInnerStreamOpen: true);
        try
        {
            await tls.AuthenticateAsClientAsync(options, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw new UpstreamException(UpstreamPhase.Tls, UpstreamErrorKind.Timeout, "TLS handshake not done within connectTimeout");
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            if (rejection is not null)
            {
                throw new UpstreamException(UpstreamPhase.Tls, UpstreamErrorKind.BadCertificate, $"certificate rejected: {rejection}", ex);
            }

            var detail = ex.InnerException?.Message is { Length: > 0 } inner ? $"{ex.Message} ({inner})" : ex.Message;
            throw new UpstreamException(UpstreamPhase.Tls, ex is IOException ? UpstreamErrorKind.Closed : UpstreamErrorKind.Reset, $"TLS handshake failed: {detail}", ex);
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        if (alpn == AlpnOffer.Http2 && tls.NegotiatedApplicationProtocol != SslApplicationProtocol.Http2)
        {
            var chosen = tls.NegotiatedApplicationProtocol.Protocol.IsEmpty ? "none" : tls.NegotiatedApplicationProtocol.ToString();
            await tls.DisposeAsync().ConfigureAwait(false);
            throw new UpstreamException(UpstreamPhase.Tls, UpstreamErrorKind.InvalidResponse,
                $"the backend did not choose h2 by ALPN (chose {chosen}); use protocol \"auto\" or \"http1\" for it");
        }

        return tls;
    }

    // Why a certificate failed, in the words an operator searches for.
    internal static string Describe(SslPolicyErrors errors, X509Certificate? certificate, X509Chain? chain, string serverName)
    {
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return "the backend sent no certificate";
        }

        var reasons = new List<string>();
        var subject = certificate is null ? "" : $" (certificate subject {certificate.Subject})";
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            reasons.Add($"name mismatch: the certificate is not valid for \"{serverName}\"{subject}; set tls.serverName to a name it holds");
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors) && chain is not null)
        {
            foreach (var status in chain.ChainStatus)
            {
                var reason = status.Status switch
                {
                    X509ChainStatusFlags.NotTimeValid => certificate is X509Certificate2 c2
                        ? $"expired or not yet valid (valid {c2.NotBefore.ToUniversalTime():u} to {c2.NotAfter.ToUniversalTime():u})"
                        : "expired or not yet valid",
                    X509ChainStatusFlags.UntrustedRoot or X509ChainStatusFlags.PartialChain =>
                        $"unknown issuer: {certificate?.Issuer} is not trusted (tls.caFile)",
                    X509ChainStatusFlags.Revoked => "revoked",
                    X509ChainStatusFlags.NoError => null,
                    _ => $"{status.Status}: {status.StatusInformation.Trim()}",
                };
                if (reason is not null && !reasons.Contains(reason))
                {
                    reasons.Add(reason);
                }
            }
        }

        return reasons.Count == 0 ? errors.ToString() : string.Join("; ", reasons);
    }
}
