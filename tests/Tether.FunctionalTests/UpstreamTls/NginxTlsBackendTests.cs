using System.Net;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.UpstreamTls;

/// <summary>
/// Issue 12: TLS to a real nginx HTTPS backend whose certificate comes from a CA made in the test (nginx
/// proxy_ssl_*, HAProxy ssl verify ca-file sni crt). Verified, wrong CA, wrong name, expired, verify off, minimum
/// version, mTLS against ssl_verify_client, and session resumption counted from nginx's $ssl_session_reused.
/// </summary>
public sealed class NginxTlsBackendTests(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>One access log line per request: resumed ("r" or "."), connection serial, protocol, SNI, client DN.</summary>
    private const string LogFormat = "$ssl_session_reused $connection $ssl_protocol sni=$ssl_server_name dn=\"$ssl_client_s_dn\" $status";
    private const string Body = "hello over tls\n";

    private readonly string _dir = Directory.CreateTempSubdirectory("tether-upstream-tls-").FullName;
    private TestCa _ca = null!;
    private IssuedCertificate _server = null!;

    public Task InitializeAsync()
    {
        _ca = TestCa.Create(_dir);
        _server = _ca.IssueServer("nginx");
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        _server.Dispose();
        _ca.Dispose();
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_backend_certificate_from_the_caFile_is_verified_and_the_request_answered()
    {
        await using var nginx = await StartNginxAsync();
        await using var gateway = await StartGatewayAsync(nginx, tls => tls with { CaFile = _ca.CertificatePath });

        var (status, body) = await GetAsync(gateway);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(Body, body);
        Assert.StartsWith(". ", Assert.Single(nginx.AccessLog()), StringComparison.Ordinal); // over TLS, a full handshake
    }

    [Fact]
    public async Task A_certificate_from_another_CA_is_a_502_logged_as_a_Tls_failure_with_an_unknown_issuer()
    {
        await using var nginx = await StartNginxAsync();
        using var other = TestCa.Create(_dir, "other");
        await using var gateway = await StartGatewayAsync(nginx, tls => tls with { CaFile = other.CertificatePath });

        var (status, _) = await GetAsync(gateway);

        Assert.Equal(HttpStatusCode.BadGateway, status);
        AssertTlsFailureLogged(gateway, nginx, "unknown issuer", "UntrustedRoot", "PartialChain", "untrusted");
        Assert.Empty(nginx.AccessLog());
    }

    [Fact]
    public async Task A_serverName_the_certificate_does_not_name_is_a_502_with_a_name_mismatch()
    {
        await using var nginx = await StartNginxAsync();
        await using var gateway = await StartGatewayAsync(nginx, tls => tls with { CaFile = _ca.CertificatePath, ServerName = "wrong.example" });

        var (status, _) = await GetAsync(gateway);

        Assert.Equal(HttpStatusCode.BadGateway, status);
        AssertTlsFailureLogged(gateway, nginx, "name mismatch", "NameMismatch");
        Assert.Empty(nginx.AccessLog());
    }

    [Fact]
    public async Task A_serverName_is_sent_as_SNI_and_verified_in_the_certificate()
    {
        await using var nginx = await StartNginxAsync();
        await using var gateway = await StartGatewayAsync(nginx, tls => tls with { CaFile = _ca.CertificatePath, ServerName = "localhost" });

        var (status, body) = await GetAsync(gateway);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(Body, body);
        Assert.Contains(" sni=localhost ", Assert.Single(nginx.AccessLog()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_expired_backend_certificate_is_a_502_with_the_reason_expired()
    {
        using var expired = _ca.IssueServer("expired", expired: true);
        await using var nginx = await StartNginxAsync(certificate: expired);
        await using var gateway = await StartGatewayAsync(nginx, tls => tls with { CaFile = _ca.CertificatePath });

        var (status, _) = await GetAsync(gateway);

        Assert.Equal(HttpStatusCode.BadGateway, status);
        AssertTlsFailureLogged(gateway, nginx, "expired", "NotTimeValid");
    }

    [Fact]
    public async Task With_verify_off_a_certificate_from_another_CA_is_accepted()
    {
        await using var nginx = await StartNginxAsync();
        using var other = TestCa.Create(_dir, "other");
        await using var gateway = await StartGatewayAsync(nginx, tls => tls with { CaFile = other.CertificatePath, Verify = false });

        var (status, body) = await GetAsync(gateway);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(Body, body);
    }

    [Fact]
    public async Task MinVersion_1_3_refuses_a_backend_that_speaks_only_TLS_1_2_and_takes_one_that_speaks_1_3()
    {
        await using var tls12 = await StartNginxAsync("ssl_protocols TLSv1.2;");
        await using var refused = await StartGatewayAsync(tls12, tls => tls with { CaFile = _ca.CertificatePath, MinVersion = TlsMinimumVersion.Tls13 });
        var (refusedStatus, _) = await GetAsync(refused);
        Assert.Equal(HttpStatusCode.BadGateway, refusedStatus);
        AssertTlsFailureLogged(refused, tls12);

        await using var tls13 = await StartNginxAsync("ssl_protocols TLSv1.2 TLSv1.3;", directory: "tls13");
        await using var accepted = await StartGatewayAsync(tls13, tls => tls with { CaFile = _ca.CertificatePath, MinVersion = TlsMinimumVersion.Tls13 });
        var (acceptedStatus, _) = await GetAsync(accepted);
        Assert.Equal(HttpStatusCode.OK, acceptedStatus);
        Assert.Contains(" TLSv1.3 ", Assert.Single(tls13.AccessLog()), StringComparison.Ordinal);
    }

    /// <summary>nginx ssl_verify_client on: without a client certificate nginx itself refuses the request (400 "No
    /// required SSL certificate was sent", forwarded as is); with tls.certificate + key it is answered, and nginx
    /// saw Tether's certificate.</summary>
    [Fact]
    public async Task With_ssl_verify_client_on_the_request_passes_only_with_Tethers_client_certificate()
    {
        using var client = _ca.IssueClient("tether-client");
        await using var nginx = await StartNginxAsync($"ssl_verify_client on; ssl_client_certificate {_ca.CertificatePath};");

        await using var without = await StartGatewayAsync(nginx, tls => tls with { CaFile = _ca.CertificatePath });
        var (refusedStatus, refusedBody) = await GetAsync(without);
        Assert.Equal(HttpStatusCode.BadRequest, refusedStatus);
        Assert.Contains("No required SSL certificate was sent", refusedBody, StringComparison.Ordinal);

        await using var with = await StartGatewayAsync(nginx, tls => tls with
        {
            CaFile = _ca.CertificatePath,
            Certificate = client.CertificatePath,
            Key = client.KeyPath,
        });
        var (status, body) = await GetAsync(with);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(Body, body);

        var log = nginx.AccessLog();
        Assert.Equal(2, log.Length);
        Assert.Contains("dn=\"-\" 400", log[0], StringComparison.Ordinal);
        Assert.Contains("dn=\"CN=tether-client\" 200", log[1], StringComparison.Ordinal);
    }

    /// <summary>No keep-alive to the backend (pool.maxIdlePerDestination 0): each of 20 requests is a new TLS
    /// connection, and with sessionReuse (the default) at least 90 % of the handshakes after the first resume.
    /// The destination is an IP, so tls.serverName names the session (documented: resumption needs a server name;
    /// .NET keeps no TLS session for a target host that is an IP address).</summary>
    [Fact]
    public async Task With_keep_alive_off_at_least_90_percent_of_handshakes_resume_the_session()
    {
        var resumed = await HandshakesResumedAsync(sessionReuse: true, "localhost");

        Assert.True(resumed >= 18, $"{resumed} of 19 handshakes after the first resumed");
    }

    /// <summary>With the serverName that makes resumption happen in the test above.</summary>
    [Fact]
    public async Task With_sessionReuse_false_no_handshake_resumes()
    {
        var resumed = await HandshakesResumedAsync(sessionReuse: false, "localhost");

        Assert.Equal(0, resumed);
    }

    /// <summary>20 sequential requests, each on its own backend connection; how many of the 19 after the first
    /// nginx saw resume a session.</summary>
    private async Task<int> HandshakesResumedAsync(bool sessionReuse, string serverName)
    {
        await using var nginx = await StartNginxAsync("ssl_session_cache shared:tether:1m; ssl_session_tickets on; ssl_session_timeout 5m;");
        await using var gateway = await StartGatewayAsync(
            nginx,
            tls => tls with { CaFile = _ca.CertificatePath, SessionReuse = sessionReuse, ServerName = serverName },
            cluster => cluster with { Pool = cluster.Pool with { MaxIdlePerDestination = 0 } });

        using var http = new HttpClient { BaseAddress = gateway.Url };
        for (var i = 0; i < 20; i++)
        {
            using var response = await http.GetAsync($"/r{i}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await Eventually.TrueAsync(() => nginx.AccessLog().Length == 20, "nginx logged 20 requests");
        var log = nginx.AccessLog();
        foreach (var line in log)
        {
            output.WriteLine(line);
        }

        var connections = log.Select(line => line.Split(' ')[1]).Distinct().Count();
        Assert.Equal(20, connections); // one backend connection per request: what makes each a handshake
        Assert.StartsWith(". ", log[0], StringComparison.Ordinal);
        return log.Skip(1).Count(line => line.StartsWith("r ", StringComparison.Ordinal));
    }

    private static void AssertTlsFailureLogged(TestGateway gateway, NginxServer nginx, params string[] reasons)
    {
        var lines = gateway.Logs.Entries.Where(e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning).Select(e => e.Message).ToList();
        var line = lines.FirstOrDefault(m => m.Contains("phase=Tls", StringComparison.OrdinalIgnoreCase));
        Assert.True(line is not null, "no Warning line with phase=Tls; warnings:\n" + string.Join("\n", lines));
        Assert.Contains($"cluster={TestGateway.Cluster}", line, StringComparison.Ordinal);
        Assert.Contains($"destination=127.0.0.1:{nginx.Port}", line, StringComparison.Ordinal);
        if (reasons.Length > 0)
        {
            Assert.True(reasons.Any(r => line.Contains(r, StringComparison.OrdinalIgnoreCase)), $"no reason ({string.Join(" | ", reasons)}) in: {line}");
        }
    }

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(TestGateway gateway)
    {
        using var http = new HttpClient { BaseAddress = gateway.Url };
        using var response = await http.GetAsync("/");
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<NginxServer> StartNginxAsync(string extra = "", IssuedCertificate? certificate = null, string directory = "nginx")
    {
        var prefix = Path.Combine(_dir, directory);
        Directory.CreateDirectory(prefix);
        certificate ??= _server;
        return await NginxServer.StartAsync(
            prefix,
            $$"""
            ssl_certificate {{certificate.CertificatePath}};
            ssl_certificate_key {{certificate.KeyPath}};
            {{extra}}
            location / { return 200 "{{Body.TrimEnd('\n')}}\n"; }
            """,
            LogFormat,
            " ssl");
    }

    private Task<TestGateway> StartGatewayAsync(NginxServer nginx, Func<UpstreamTlsConfig, UpstreamTlsConfig> tls, Func<ClusterConfig, ClusterConfig>? cluster = null) =>
        TestGateway.StartAsync(
            $"https://127.0.0.1:{nginx.Port}",
            c =>
            {
                c = c with { Tls = tls(c.Tls) };
                return cluster?.Invoke(c) ?? c;
            },
            output: output);
}
