using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tether.FunctionalTests.Infrastructure;

/// <summary>A leaf certificate a <see cref="TestCa"/> issued, with its key, and where its PEMs were written.</summary>
internal sealed class IssuedCertificate(X509Certificate2 certificate, string certificatePath, string keyPath) : IDisposable
{
    /// <summary>The certificate with its private key (for Kestrel or a client).</summary>
    public X509Certificate2 Certificate { get; } = certificate;

    /// <summary>PEM of the certificate followed by its issuing CA (a chain, as nginx and Tether take it).</summary>
    public string CertificatePath { get; } = certificatePath;

    /// <summary>PKCS#8 PEM of the private key.</summary>
    public string KeyPath { get; } = keyPath;

    public void Dispose() => Certificate.Dispose();
}

/// <summary>
/// A throwaway certificate authority made in the test (CertificateRequest; ECDSA P-256 keys, as an RSA 2048 key
/// takes about 2 s to make here): its certificate as a PEM file (a caFile for Tether, ssl_client_certificate for
/// nginx) and leaves it issues with SANs, written as PEMs in the same directory.
/// </summary>
internal sealed class TestCa : IDisposable
{
    private readonly ECDsa _key;
    private readonly string _directory;
    private readonly string _name;

    private TestCa(string directory, string name)
    {
        _directory = directory;
        _name = name;
        _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN=Tether Test CA {name}", _key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        Certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        CertificatePath = Path.Combine(directory, $"{name}-ca.pem");
        File.WriteAllText(CertificatePath, Certificate.ExportCertificatePem());
    }

    public X509Certificate2 Certificate { get; }

    /// <summary>The CA certificate as PEM.</summary>
    public string CertificatePath { get; }

    /// <summary>A CA named <paramref name="name"/> whose files go into <paramref name="directory"/>.</summary>
    public static TestCa Create(string directory, string name = "main") => new(directory, name);

    /// <summary>A server certificate with SANs "localhost" and 127.0.0.1 (or <paramref name="names"/>), valid now unless <paramref name="expired"/>.</summary>
    public IssuedCertificate IssueServer(string fileName = "server", bool expired = false, string[]? names = null)
    {
        names ??= ["localhost", "127.0.0.1"];
        return Issue(fileName, "CN=" + names[0], names, serverAuth: true, expired);
    }

    /// <summary>A client certificate (extended key usage clientAuth) with the given common name.</summary>
    public IssuedCertificate IssueClient(string commonName, string fileName = "client") =>
        Issue(fileName, "CN=" + commonName, [], serverAuth: false, expired: false);

    public void Dispose()
    {
        Certificate.Dispose();
        _key.Dispose();
    }

    private IssuedCertificate Issue(string fileName, string subject, string[] names, bool serverAuth, bool expired)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [serverAuth ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        if (names.Length > 0)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var name in names)
            {
                if (IPAddress.TryParse(name, out var address))
                {
                    san.AddIpAddress(address);
                }
                else
                {
                    san.AddDnsName(name);
                }
            }

            request.CertificateExtensions.Add(san.Build());
        }

        var now = DateTimeOffset.UtcNow;
        var (notBefore, notAfter) = expired ? (now.AddDays(-10), now.AddDays(-1)) : (now.AddHours(-1), now.AddDays(7));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var issued = request.Create(Certificate.SubjectName, X509SignatureGenerator.CreateForECDsa(_key), notBefore, notAfter, serial);
        var withKey = issued.CopyWithPrivateKey(key);

        var certificatePath = Path.Combine(_directory, $"{_name}-{fileName}.pem");
        var keyPath = Path.Combine(_directory, $"{_name}-{fileName}-key.pem");
        File.WriteAllText(certificatePath, issued.ExportCertificatePem() + "\n" + Certificate.ExportCertificatePem() + "\n");
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());

        // Kestrel (SslStream server) on Linux takes an ephemeral key; a PKCS#12 round trip keeps it usable everywhere.
        var usable = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        withKey.Dispose();
        return new IssuedCertificate(usable, certificatePath, keyPath);
    }
}
