using Tether.Gateway.Reload;

namespace Tether.Gateway.Tests.Reload;

/// <summary>The etcd address of --config and the credentials and TLS files given beside it.</summary>
public sealed class EtcdLocationTests
{
    [Fact]
    public void An_address_gives_endpoints_scheme_and_config_key()
    {
        Assert.True(EtcdLocation.TryParse("etcds://10.0.0.7:2379,[::1]:2379/tether/prod/", out var location, out var error), error);
        Assert.Equal(["https://10.0.0.7:2379/", "https://[::1]:2379/"], location!.Endpoints.Select(e => e.ToString()));
        Assert.True(location.Tls);
        Assert.Equal("/tether/prod/config", location.ConfigKey);
        Assert.False(EtcdLocation.TryParse("etcd://10.0.0.7:2379", out _, out error));
        Assert.Contains("etcd://host:2379/prefix", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Credentials_and_tls_files_are_checked_each_naming_its_option()
    {
        var file = Path.GetTempFileName();
        try
        {
            Assert.True(EtcdLocation.TryParse("etcds://127.0.0.1:2379/p", out var tls, out _));
            Assert.True(EtcdLocation.TryParse("etcd://127.0.0.1:2379/p", out var cleartext, out _));
            Assert.Empty(tls!.Problems());
            Assert.Empty((tls with { User = "root", Password = "pw", CaFile = file, CertificateFile = file, KeyFile = file }).Problems());

            Assert.Contains("TETHER_ETCD_PASSWORD", Assert.Single((tls with { User = "root" }).Problems()), StringComparison.Ordinal);
            Assert.Contains("write etcds://", Assert.Single((cleartext! with { CaFile = file }).Problems()), StringComparison.Ordinal);
            Assert.Contains("add --etcd-key-file", Assert.Single((tls with { CertificateFile = file }).Problems()), StringComparison.Ordinal);
            Assert.Contains("add --etcd-cert-file", Assert.Single((tls with { KeyFile = file }).Problems()), StringComparison.Ordinal);
            var missing = file + ".missing";
            Assert.Contains($"--etcd-ca-file {missing}: no such file", Assert.Single((tls with { CaFile = missing }).Problems()), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
