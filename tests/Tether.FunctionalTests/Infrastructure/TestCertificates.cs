using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tether.FunctionalTests.Infrastructure;

/// <summary>Self-signed certificates for TLS listeners in tests, written as PEM files.</summary>
internal static class TestCertificates
{
    /// <summary>Writes a "CN=localhost" certificate and its key into <paramref name="directory"/>; returns their paths.</summary>
    public static (string Certificate, string Key) WriteSelfSigned(string directory)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var certificatePath = Path.Combine(directory, "cert.pem");
        var keyPath = Path.Combine(directory, "key.pem");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, rsa.ExportPkcs8PrivateKeyPem());
        return (certificatePath, keyPath);
    }
}
