using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Tether.Client.Tests;

public sealed class TlsTests
{
    [Fact]
    public async Task Https_is_verified_against_the_CA_file_and_refused_without_it()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=tls.test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("tls.test");
        request.CertificateExtensions.Add(names.Build());
        using var issued = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        using var serverCertificate = X509CertificateLoader.LoadPkcs12(issued.Export(X509ContentType.Pfx), null);
        var caFile = Path.Combine(Path.GetTempPath(), $"tether-client-ca-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(caFile, issued.ExportCertificatePem());
        try
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l =>
            {
                l.Protocols = HttpProtocols.Http1;
                l.UseHttps(serverCertificate);
            }));
            await using var app = builder.Build();
            app.MapGet("/", () => "secure hello");
            await app.StartAsync();
            var port = new Uri(app.Urls.First()).Port;
            var url = $"https://tls.test:{port}/";
            static Task<IPAddress[]> Loopback(string host, CancellationToken ct) => Task.FromResult(new[] { IPAddress.Loopback });

            using (var trusting = new HttpClient(new TetherHttpHandler(new TetherClientOptions { TlsCaFile = caFile, ResolveHost = Loopback })))
            {
                Assert.Equal("secure hello", await trusting.GetStringAsync(url));
                Assert.Equal("secure hello", await trusting.GetStringAsync(url));
            }

            using var untrusting = new HttpClient(new TetherHttpHandler(new TetherClientOptions { ResolveHost = Loopback }));
            var error = await Assert.ThrowsAsync<HttpRequestException>(() => untrusting.GetStringAsync(url));
            Assert.Equal(HttpRequestError.SecureConnectionError, error.HttpRequestError);
            Assert.Contains("certificate rejected", error.Message, StringComparison.Ordinal);
            await app.StopAsync();
        }
        finally
        {
            File.Delete(caFile);
        }
    }
}
