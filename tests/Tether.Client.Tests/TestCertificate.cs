using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tether.Client.Tests;

// A self-signed server certificate for one DNS name, and its PEM written as a CA file.
internal sealed class TestCertificate : IDisposable
{
    private TestCertificate(X509Certificate2 server, string caFile)
    {
        Server = server;
        CaFile = caFile;
    }

    public X509Certificate2 Server { get; }

    public string CaFile { get; }

    public static TestCertificate Create(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(name);
        request.CertificateExtensions.Add(names.Build());
        using var issued = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var caFile = Path.Combine(Path.GetTempPath(), $"tether-client-h2-ca-{Guid.NewGuid():N}.pem");
        File.WriteAllText(caFile, issued.ExportCertificatePem());
        return new TestCertificate(X509CertificateLoader.LoadPkcs12(issued.Export(X509ContentType.Pfx), null), caFile);
    }

    public void Dispose()
    {
        Server.Dispose();
        File.Delete(CaFile);
    }
}
