using System.Text.Json.Nodes;
using Tether.Configuration;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Cli;

/// <summary>`tether config --print` (nginx -T): the effective config with every default, or check's errors.</summary>
public sealed class ConfigCommandTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tether-config-").FullName;

    [Fact]
    public async Task Print_fills_every_default_applies_variables_and_reads_back_to_the_same_config()
    {
        var file = Write("tether.yaml", """
            routes:
              - cluster: app
            clusters:
              app:
                destinations: [127.0.0.1:9001]
            """);

        var (exitCode, stdout, stderr) = await TetherCli.RunAsync(output, ["config", "--print", "--config", file],
            new Dictionary<string, string> { ["TETHER__CLUSTERS__APP__POOL__IDLETIMEOUT"] = "4s" });

        Assert.Equal(0, exitCode);
        Assert.Equal("", stderr);
        var printed = JsonNode.Parse(stdout)!;
        Assert.Equal("4s", (string?)printed["clusters"]!["app"]!["pool"]!["idleTimeout"]);
        Assert.Equal(64, (int)printed["clusters"]!["app"]!["pool"]!["maxIdlePerDestination"]!);
        Assert.Equal("1m15s", (string?)printed["downstream"]!["keepAliveTimeout"]);
        Assert.Equal("127.0.0.1:9901", (string?)printed["admin"]!["address"]);

        var again = ConfigLoader.Parse(stdout);
        Assert.True(again.Succeeded, string.Join("\n", again.Errors));
        Assert.Equal(stdout.TrimEnd(), ConfigWriter.ToJson(again.Config!));
    }

    [Fact]
    public async Task Print_as_yaml_reads_back_to_the_same_config()
    {
        var file = Write("tether.json", """{ "routes": [{ "cluster": "app" }], "clusters": { "app": { "destinations": ["127.0.0.1:9001"] } } }""");

        var (exitCode, stdout, _) = await TetherCli.RunAsync(output, ["config", "--print", "--config", file, "--format", "yaml"]);

        Assert.Equal(0, exitCode);
        Assert.Contains("mode: \"off\"", stdout, StringComparison.Ordinal);
        var yaml = ConfigLoader.ParseYaml(stdout);
        Assert.True(yaml.Succeeded, string.Join("\n", yaml.Errors));
        Assert.Equal(ConfigWriter.ToJson(ConfigLoader.LoadFile(file).Config!), ConfigWriter.ToJson(yaml.Config!));
    }

    [Fact]
    public async Task An_invalid_config_is_refused_with_the_errors_check_prints()
    {
        var file = Write("tether.yaml", """
            routes:
              - cluster: missing
            clusters:
              app:
                destinations: [127.0.0.1:9001]
                pool: { idleTimeout: soon }
            """);

        var printed = await TetherCli.RunAsync(output, ["config", "--print", "--config", file]);
        var checkedResult = await TetherCli.RunAsync(output, ["check", "--config", file]);

        Assert.Equal(1, printed.ExitCode);
        Assert.Equal("", printed.Stdout);
        Assert.Equal(checkedResult.Stderr, printed.Stderr);
        Assert.Contains("2 error(s)", printed.Stderr, StringComparison.Ordinal);
        Assert.Contains("routes[0].cluster = \"missing\": there is no cluster named \"missing\"", printed.Stderr, StringComparison.Ordinal);
        Assert.Contains("clusters.app.pool.idleTimeout = \"soon\":", printed.Stderr, StringComparison.Ordinal);
        Assert.Contains("(line 6, column 13)", printed.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_print_it_is_a_usage_error()
    {
        var (exitCode, stdout, stderr) = await TetherCli.RunAsync(output, ["config"]);

        Assert.Equal(2, exitCode);
        Assert.Equal("", stdout);
        Assert.Contains("--print", stderr, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, text);
        return path;
    }
}
