using Microsoft.Extensions.Logging.Abstractions;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Tether.Gateway.Reload;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Fleet;

/// <summary>
/// Credentials and TLS to etcd, for the config source (--config etcds://…, --etcd-user) and for destinationsFrom
/// (the etcd section), against a real etcd-server started with client-certificate TLS or with auth on.
/// </summary>
public sealed class EtcdSecurityTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Prefix = "/tether/secure";
    private const string Registry = "/tether/secure/clusters/app/";
    private readonly string _directory = Directory.CreateTempSubdirectory("tether-etcd-tls-").FullName;
    private RawOrigin _origin = null!;

    public Task InitializeAsync()
    {
        _origin = RawOrigin.Serve((_, c) => c.RespondAsync(200, "registered"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _origin.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task An_etcd_that_requires_client_certificates_is_read_over_tls_by_the_config_source_and_by_destinationsFrom()
    {
        using var ca = TestCa.Create(_directory);
        using var server = ca.IssueServer("etcd");
        using var client = ca.IssueClient("tether");
        await using var etcd = await EtcdServer.StartAsync(new EtcdServerTls(ca.CertificatePath, server.CertificatePath, server.KeyPath, client.CertificatePath, client.KeyPath));
        var revision = await etcd.PutAsync(Prefix + "/config", "{}");
        await etcd.PutAsync(Registry + "one", _origin.Address);

        // The config source, with the CA and the client certificate.
        var location = Location($"etcds://{etcd.Endpoint}{Prefix}") with { CaFile = ca.CertificatePath, CertificateFile = client.CertificatePath, KeyFile = client.KeyPath };
        Assert.Empty(location.Problems());
        await using (var source = new EtcdConfigSource(location, NullLogger.Instance))
        {
            Assert.Equal(("{}", revision), await source.ReadAsync(CancellationToken.None));
        }

        // Without the client certificate etcd refuses the connection: the certificate is what let the read through.
        await using (var anonymous = new EtcdConfigSource(location with { CertificateFile = null, KeyFile = null }, NullLogger.Instance))
        {
            await Assert.ThrowsAsync<IOException>(() => anonymous.ReadAsync(CancellationToken.None));
        }

        // destinationsFrom, with etcd.tls.
        await using var gateway = await StartRegistryGatewayAsync(etcd, $$"""
            "tls": { "caFile": "{{ca.CertificatePath}}", "certificate": "{{client.CertificatePath}}", "key": "{{client.KeyPath}}" }
            """);
        using var http = new HttpClient { BaseAddress = gateway.Url };
        await Eventually.TrueAsync(() => gateway.Gateway.Model.Clusters["app"].Destinations.Count == 1, "the destination registered in the TLS etcd did not appear");
        Assert.Equal("registered", await http.GetStringAsync("/"));
    }

    [Fact]
    public async Task An_etcd_with_auth_on_is_read_with_the_user_and_password_and_a_wrong_password_is_refused()
    {
        await using var etcd = await EtcdServer.StartAsync();
        await etcd.EnableAuthAsync("root", "s3cret-pw");
        await etcd.PutAsync(Prefix + "/config", "{}");
        await etcd.PutAsync(Registry + "one", _origin.Address);

        var location = Location($"etcd://{etcd.Endpoint}{Prefix}") with { User = "root", Password = "s3cret-pw" };
        await using (var source = new EtcdConfigSource(location, NullLogger.Instance))
        {
            Assert.Equal("{}", (await source.ReadAsync(CancellationToken.None)).Json);
        }

        await using (var wrong = new EtcdConfigSource(location with { Password = "wrong" }, NullLogger.Instance))
        {
            var refused = await Assert.ThrowsAsync<IOException>(() => wrong.ReadAsync(CancellationToken.None));
            output.WriteLine(refused.Message);
            Assert.Contains("authentication failed", refused.Message, StringComparison.OrdinalIgnoreCase);
        }

        // destinationsFrom, with etcd.username / etcd.password; a registration written later is followed too (the
        // watch carries the token).
        await using var gateway = await StartRegistryGatewayAsync(etcd, """ "username": "root", "password": "s3cret-pw" """);
        using var http = new HttpClient { BaseAddress = gateway.Url };
        var cluster = gateway.Gateway.Model.Clusters["app"];
        await Eventually.TrueAsync(() => cluster.Destinations.Count == 1, "the destination registered in the etcd with auth did not appear");
        Assert.Equal("registered", await http.GetStringAsync("/"));
        await using var second = RawOrigin.Serve((_, c) => c.RespondAsync(200, "second"));
        await etcd.PutAsync(Registry + "two", second.Address);
        await Eventually.TrueAsync(() => cluster.Destinations.Count == 2, "a registration written after the start was not followed");
    }

    private static EtcdLocation Location(string address)
    {
        Assert.True(EtcdLocation.TryParse(address, out var location, out var error), error);
        return location!;
    }

    private Task<TestGateway> StartRegistryGatewayAsync(EtcdServer etcd, string security)
    {
        var json = $$"""
            {
              "listeners": [{ "address": "127.0.0.1:0", "protocols": "http1" }],
              "admin": { "address": "" },
              "etcd": { "endpoints": ["{{etcd.Endpoint}}"], {{security}} },
              "routes": [{ "cluster": "app" }],
              "clusters": { "app": { "destinationsFrom": { "etcd": "{{Registry}}" } } }
            }
            """;
        var loaded = ConfigLoader.Parse(json);
        Assert.True(loaded.Succeeded, string.Join("\n", loaded.Errors));
        return TestGateway.StartAsync(loaded.Config!, output: output);
    }
}
