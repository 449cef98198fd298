namespace Tether.Configuration.Tests;

public class CompressionConfigTests
{
    private const string Cluster = """ "clusters": { "api": { "destinations": ["127.0.0.1:9001"] } } """;

    [Fact]
    public void Absent_compression_is_off_with_the_documented_defaults()
    {
        var compression = ConfigAssert.Valid($$"""{ "routes": [{ "cluster": "api" }], {{Cluster}} }""").Routes[0].Compression;
        Assert.False(compression.Enabled);
        Assert.Equal(["br", "gzip"], compression.Algorithms);
        Assert.Equal(["text/*", "application/json", "application/javascript", "application/xml", "image/svg+xml"], compression.ContentTypes);
        Assert.Equal(1024, compression.MinSize);
        Assert.Equal(CompressionLevelName.Fastest, compression.Level);
    }

    [Fact]
    public void Every_key_reads_as_written_and_round_trips()
    {
        var config = ConfigAssert.Valid($$"""
            { "routes": [{ "cluster": "api", "compression": { "enabled": true, "algorithms": ["gzip"], "contentTypes": ["text/html"], "minSize": "4k", "level": "optimal" } }], {{Cluster}} }
            """);
        var compression = config.Routes[0].Compression;
        Assert.True(compression.Enabled);
        Assert.Equal(["gzip"], compression.Algorithms);
        Assert.Equal(["text/html"], compression.ContentTypes);
        Assert.Equal(4096, compression.MinSize);
        Assert.Equal(CompressionLevelName.Optimal, compression.Level);
        var again = ConfigAssert.Valid(ConfigWriter.ToJson(config));
        Assert.Equal(ConfigWriter.ToJson(config), ConfigWriter.ToJson(again));
    }

    [Theory]
    [InlineData("""{ "algorithms": ["deflate"] }""", "routes[0].compression.algorithms[0]", "use \"br\" (brotli) or \"gzip\"")]
    [InlineData("""{ "algorithms": ["gzip", "gzip"] }""", "routes[0].compression.algorithms[1]", "listed twice")]
    [InlineData("""{ "algorithms": [] }""", "routes[0].compression.algorithms", "name at least one algorithm")]
    [InlineData("""{ "contentTypes": ["json"] }""", "routes[0].compression.contentTypes[0]", "write a media type such as")]
    [InlineData("""{ "contentTypes": ["text/html; charset=utf-8"] }""", "routes[0].compression.contentTypes[0]", "without parameters")]
    [InlineData("""{ "minSize": "1 kilobyte" }""", "routes[0].compression.minSize", "expected a size such as \"1m\"")]
    [InlineData("""{ "minSize": -1 }""", "routes[0].compression.minSize", "or a whole number of bytes")]
    [InlineData("""{ "level": "max" }""", "routes[0].compression.level", "\"fastest\", \"optimal\" or \"smallestSize\"")]
    [InlineData("""{ "enable": true }""", "routes[0].compression.enable", "did you mean 'enabled'?")]
    public void A_bad_value_names_the_key_and_the_fix(string compression, string path, string fix) =>
        ConfigAssert.SingleError($$"""{ "routes": [{ "cluster": "api", "compression": {{compression}} }], {{Cluster}} }""", path, fix);
}
