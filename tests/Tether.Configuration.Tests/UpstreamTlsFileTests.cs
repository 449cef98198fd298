using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace Tether.Configuration.Tests;

/// <summary>clusters.&lt;name&gt;.tls.caFile, .certificate and .key: real PEM files written to a temp folder,
/// and every way they can be wrong.</summary>
public sealed class UpstreamTlsFileTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("tether-upstream-tls-");

    public void Dispose() => _folder.Delete(recursive: true);

    [Fact]
    public void A_real_CA_bundle_and_client_certificate_pass()
    {
        var (certificate, key) = WriteClientPair("client");
        var ca = Write("ca.pem", CertificatePem() + "\n" + CertificatePem() + "\n");
        var tls = ConfigAssert.Valid(Config(new() { ["caFile"] = ca, ["certificate"] = certificate, ["key"] = key })).Clusters["api"].Tls;
        Assert.Equal((ca, certificate, key), (tls.CaFile, tls.Certificate, tls.Key));
    }

    [Fact]
    public void An_RSA_key_in_PKCS1_form_passes()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=client", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var certificateFile = Write("rsa.crt", certificate.ExportCertificatePem());
        var keyFile = Write("rsa.key", rsa.ExportRSAPrivateKeyPem());
        Assert.Contains("BEGIN RSA PRIVATE KEY", File.ReadAllText(keyFile), StringComparison.Ordinal);
        ConfigAssert.Valid(Config(new() { ["certificate"] = certificateFile, ["key"] = keyFile }));
    }

    [Fact]
    public void Certificate_and_key_come_together()
    {
        var (certificate, key) = WriteClientPair("client");
        var error = TlsError(new() { ["certificate"] = certificate }, "key", "a client certificate needs its private key", "or remove \"certificate\"");
        Assert.Null(error.Value);

        TlsError(new() { ["key"] = key }, "certificate", "add \"certificate\" with the path of the PEM certificate", "or remove \"key\"");
    }

    [Theory]
    [InlineData("caFile", "the CA file")]
    [InlineData("certificate", "the client certificate file")]
    [InlineData("key", "the key file")]
    public void A_missing_file_is_named_with_its_full_path(string key, string what)
    {
        var (certificateFile, keyFile) = WriteClientPair("client");
        var missing = Path.Combine(_folder.FullName, "missing.pem");
        var files = new Dictionary<string, string> { ["certificate"] = certificateFile, ["key"] = keyFile, [key] = missing };
        var error = TlsError(files, key, $"{what} {missing} does not exist");
        Assert.Equal(Quoted(missing), error.Value);
    }

    [Fact]
    public void A_folder_is_not_a_file()
    {
        TlsError(new() { ["caFile"] = _folder.FullName }, "caFile", $"{_folder.FullName} is a folder",
            "give the path of the PEM CA file in it");
    }

    [Fact]
    public void An_unreadable_file_is_named()
    {
        var ca = Write("ca.pem", CertificatePem());
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        File.SetUnixFileMode(ca, UnixFileMode.None);
        if (CanStillRead(ca))
        {
            // root reads every file whatever its mode: there is no unreadable file to test with.
            return;
        }

        TlsError(new() { ["caFile"] = ca }, "caFile", $"cannot read the CA file {ca}");
    }

    [Fact]
    public void A_CA_file_without_a_certificate_is_refused()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var ca = Write("ca.pem", key.ExportPkcs8PrivateKeyPem());
        TlsError(new() { ["caFile"] = ca }, "caFile",
            $"the CA file {ca} holds no PEM certificate (no \"-----BEGIN CERTIFICATE-----\" block)",
            "a PEM bundle of the CAs that sign the backends' certificates");

        Write("der.pem", "not PEM at all");
        TlsError(new() { ["caFile"] = Path.Combine(_folder.FullName, "der.pem") }, "caFile", "holds no PEM certificate");
    }

    [Fact]
    public void A_corrupt_certificate_block_is_refused()
    {
        var corrupt = "-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
        var ca = Write("ca.pem", CertificatePem() + "\n" + corrupt);
        TlsError(new() { ["caFile"] = ca }, "caFile", $"the CA file {ca} holds a PEM certificate that cannot be read (");

        var (_, key) = WriteClientPair("client");
        var certificate = Write("corrupt.crt", corrupt);
        TlsError(new() { ["certificate"] = certificate, ["key"] = key }, "certificate",
            $"the client certificate file {certificate} holds a PEM certificate that cannot be read (");
    }

    [Fact]
    public void A_key_file_without_a_private_key_is_refused()
    {
        var (certificate, _) = WriteClientPair("client");
        TlsError(new() { ["certificate"] = certificate, ["key"] = certificate }, "key",
            $"the key file {certificate} holds no PEM private key",
            "\"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\"");
    }

    [Fact]
    public void An_encrypted_key_is_refused_with_how_to_decrypt_it()
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var certificate = Write("client.crt", CertificatePem(ecdsa));
        var key = Write("client.key", ecdsa.ExportEncryptedPkcs8PrivateKeyPem("secret",
            new PbeParameters(PbeEncryptionAlgorithm.Aes128Cbc, HashAlgorithmName.SHA256, 1000)));
        TlsError(new() { ["certificate"] = certificate, ["key"] = key }, "key",
            $"the private key in {key} is encrypted",
            "openssl pkey");
    }

    [Fact]
    public void A_key_of_another_certificate_is_refused()
    {
        var (certificate, _) = WriteClientPair("one");
        var (_, otherKey) = WriteClientPair("two");
        TlsError(new() { ["certificate"] = certificate, ["key"] = otherKey }, "key",
            $"the private key in {otherKey} is not the key of the certificate in {certificate}",
            "give the key the certificate was issued for");
    }

    [Fact]
    public void A_bad_certificate_is_reported_once_without_a_second_error_on_the_key()
    {
        var (_, key) = WriteClientPair("client");
        var empty = Write("empty.crt", "");
        TlsError(new() { ["certificate"] = empty, ["key"] = key }, "certificate",
            "holds no PEM certificate");
    }

    [Fact]
    public void LoadFile_resolves_relative_paths_against_the_file_folder()
    {
        var (certificate, key) = WriteClientPair("client");
        Write("ca.pem", CertificatePem());
        var file = Write("tether.json", ConfigAssert.WithCluster("""
            { "destinations": ["https://10.0.0.5"],
              "tls": { "caFile": "ca.pem", "certificate": "client.crt", "key": "./client.key" } }
            """));

        var result = ConfigLoader.LoadFile(file);

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var tls = result.Config!.Clusters["api"].Tls;
        Assert.Equal((Path.Combine(_folder.FullName, "ca.pem"), certificate, key), (tls.CaFile, tls.Certificate, tls.Key));
    }

    [Fact]
    public void LoadFile_names_the_resolved_path_of_a_missing_relative_file()
    {
        var file = Write("tether.json", ConfigAssert.WithCluster("""{ "destinations": ["https://10.0.0.5"], "tls": { "caFile": "certs/ca.pem" } }"""));
        var error = Assert.Single(ConfigLoader.LoadFile(file).Errors);
        var expected = Path.Combine(_folder.FullName, "certs", "ca.pem");
        Assert.Equal("clusters.api.tls.caFile", error.Path);
        Assert.Equal(Quoted(expected), error.Value);
        Assert.Contains($"the CA file {expected} does not exist", error.Message, StringComparison.Ordinal);
    }

    // The one error of a cluster whose tls section holds these keys, at tls.<key>, naming fix and every one of more.
    private static ConfigError TlsError(Dictionary<string, string> tls, string key, string fix, params string[] more)
    {
        var error = ConfigAssert.SingleError(Config(tls), "clusters.api.tls." + key, fix);
        foreach (var text in more)
        {
            Assert.Contains(text, error.Message, StringComparison.Ordinal);
        }

        return error;
    }

    private static string Config(Dictionary<string, string> tls) =>
        ConfigAssert.WithCluster($$"""{ "destinations": ["https://10.0.0.5"], "tls": {{JsonSerializer.Serialize(tls)}} }""");

    private static string Quoted(string path) => "\"" + path + "\"";

    private string Write(string name, string text)
    {
        var path = Path.Combine(_folder.FullName, name);
        File.WriteAllText(path, text);
        return path;
    }

    // name.crt (a self-signed certificate) and name.key (its PKCS#8 key).
    [Fact]
    public void Etcd_credentials_and_tls_files_are_bound_checked_and_hidden_when_printed()
    {
        var (certificate, key) = WriteClientPair("etcd-client");
        var ca = Write("etcd-ca.pem", CertificatePem());
        var config = ConfigAssert.Valid($$"""
            { "etcd": { "endpoints": ["127.0.0.1:2379"], "username": "tether", "password": "pw-123",
                        "tls": { "caFile": {{Quoted(ca)}}, "certificate": {{Quoted(certificate)}}, "key": {{Quoted(key)}} } } }
            """);
        Assert.Equal(("tether", "pw-123"), (config.Etcd.Username, config.Etcd.Password));
        Assert.Equal(new EtcdTlsConfig { CaFile = ca, Certificate = certificate, Key = key }, config.Etcd.Tls);
        Assert.True(config.Etcd.SameAs(config.Etcd with { }));
        Assert.False(config.Etcd.SameAs(config.Etcd with { Password = "other" }));
        var printed = ConfigWriter.ToJson(config);
        Assert.Contains("(hidden)", printed, StringComparison.Ordinal);
        Assert.DoesNotContain("pw-123", printed, StringComparison.Ordinal);

        // "tls": {} is TLS verified against the system store; no section is cleartext.
        Assert.NotNull(ConfigAssert.Valid("""{ "etcd": { "endpoints": ["127.0.0.1:2379"], "tls": {} } }""").Etcd.Tls);
        Assert.Null(ConfigAssert.Valid("""{ "etcd": { "endpoints": ["127.0.0.1:2379"] } }""").Etcd.Tls);

        // The password may come from the environment, out of the file.
        Assert.Equal("from-env", ConfigAssert.Valid("""{ "etcd": { "username": "tether" } }""", ("TETHER__ETCD__PASSWORD", "from-env")).Etcd.Password);
    }

    [Fact]
    public void Etcd_credentials_come_in_pairs_and_its_tls_files_must_be_real()
    {
        ConfigAssert.SingleError("""{ "etcd": { "username": "tether" } }""", "etcd.password", "TETHER__ETCD__PASSWORD");
        ConfigAssert.SingleError("""{ "etcd": { "password": "pw" } }""", "etcd.username", "add \"username\"");
        ConfigAssert.SingleError("""{ "etcd": { "username": " ", "password": "pw" } }""", "etcd.username", "etcdctl user add");
        var missing = Path.Combine(_folder.FullName, "missing-ca.pem");
        ConfigAssert.SingleError($$"""{ "etcd": { "tls": { "caFile": {{Quoted(missing)}} } } }""", "etcd.tls.caFile", $"the CA file {missing} does not exist");
        var (certificate, _) = WriteClientPair("etcd-lonely");
        ConfigAssert.SingleError($$"""{ "etcd": { "tls": { "certificate": {{Quoted(certificate)}} } } }""", "etcd.tls.key", "a client certificate needs its private key");
        ConfigAssert.SingleError("""{ "etcd": { "tls": { "verify": false } } }""", "etcd.tls.verify", "unknown key");
    }

    private (string Certificate, string Key) WriteClientPair(string name)
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return (Write(name + ".crt", CertificatePem(ecdsa)), Write(name + ".key", ecdsa.ExportPkcs8PrivateKeyPem()));
    }

    private static string CertificatePem()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return CertificatePem(key);
    }

    private static string CertificatePem(ECDsa key)
    {
        var request = new CertificateRequest("CN=tether-test", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return certificate.ExportCertificatePem();
    }

    private static bool CanStillRead(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
