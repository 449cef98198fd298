using System.Net;
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
        using var certificate = TestCertificate.Create("tls.test");
        var serverCertificate = certificate.Server;
        var caFile = certificate.CaFile;
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
}
