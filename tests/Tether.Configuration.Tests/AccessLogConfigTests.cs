namespace Tether.Configuration.Tests;

/// <summary>accessLog: defaults, binding, the writer, TETHER__ overrides, relative paths and the checks.</summary>
public sealed class AccessLogConfigTests
{
    [Fact]
    public void Absent_it_is_off_in_the_combined_format()
    {
        var accessLog = ConfigAssert.Valid("{}").AccessLog;
        Assert.Equal("off", accessLog.Path);
        Assert.True(accessLog.IsOff);
        Assert.Equal(AccessLogFormat.Combined, accessLog.Format);
        Assert.Equal(16384, accessLog.QueueSize);
    }

    [Fact]
    public void Every_key_is_read_and_written_back()
    {
        var config = ConfigAssert.Valid("""{ "accessLog": { "path": "STDOUT", "format": "JSON", "queueSize": 100 } }""");
        Assert.Equal(new AccessLogConfig { Path = "STDOUT", Format = AccessLogFormat.Json, QueueSize = 100 }, config.AccessLog);
        Assert.True(config.AccessLog.IsStdout);

        var json = ConfigWriter.ToJson(config);
        Assert.Contains("\"format\": \"json\"", json, StringComparison.Ordinal);
        Assert.Equal(config.AccessLog, ConfigAssert.Valid(json).AccessLog);
    }

    [Fact]
    public void Environment_variables_set_it()
    {
        var accessLog = ConfigAssert.Valid("{}", ("TETHER__ACCESSLOG__PATH", "stdout"), ("TETHER__ACCESSLOG__FORMAT", "json"), ("TETHER__ACCESSLOG__QUEUESIZE", "8")).AccessLog;
        Assert.Equal(new AccessLogConfig { Path = "stdout", Format = AccessLogFormat.Json, QueueSize = 8 }, accessLog);
    }

    [Fact]
    public void A_relative_file_is_resolved_against_the_config_files_folder()
    {
        var folder = Directory.CreateTempSubdirectory("tether-accesslog-").FullName;
        try
        {
            var file = Path.Combine(folder, "tether.json");
            File.WriteAllText(file, """{ "accessLog": { "path": "access.log" } }""");
            var result = ConfigLoader.LoadFile(file);
            Assert.True(result.Succeeded, string.Join("\n", result.Errors));
            Assert.Equal(Path.Combine(folder, "access.log"), result.Config!.AccessLog.Path);

            File.WriteAllText(file, """{ "accessLog": { "path": "stdout" } }""");
            Assert.Equal("stdout", ConfigLoader.LoadFile(file).Config!.AccessLog.Path);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData("""{ "accessLog": { "format": "common" } }""", "accessLog.format", "expected \"combined\" or \"json\"")]
    [InlineData("""{ "accessLog": { "path": 1 } }""", "accessLog.path", "expected a string")]
    [InlineData("""{ "accessLog": { "path": "" } }""", "accessLog.path", "use \"stdout\", \"off\" or the path of a file")]
    [InlineData("""{ "accessLog": { "path": "/no/such/folder/access.log" } }""", "accessLog.path", "the folder /no/such/folder does not exist")]
    [InlineData("""{ "accessLog": { "path": "/tmp" } }""", "accessLog.path", "/tmp is a folder")]
    [InlineData("""{ "accessLog": { "queueSize": 0 } }""", "accessLog.queueSize", "must be at least 1")]
    [InlineData("""{ "accessLog": { "pth": "stdout" } }""", "accessLog.pth", "path")]
    public void Mistakes_name_the_key_and_the_fix(string json, string path, string fix) =>
        ConfigAssert.SingleError(json, path, fix);
}
