using Xunit.Abstractions;

namespace Tether.FunctionalTests.Cli;

/// <summary>
/// `tether check --config FILE` run as users run it: the built tether.dll (copied next to this assembly by the
/// project reference) in a child process, with no TETHER__ variables inherited.
/// </summary>
public sealed class CheckCommandTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tether-check-").FullName;

    [Fact]
    public async Task An_invalid_config_prints_every_error_with_its_key_path_and_exits_1()
    {
        var file = Write("""
            {
              "listeners": [{ "address": "8080" }],
              "routes": [{ "cluster": "missing" }],
              "clusters": {
                "app": {
                  "destinations": ["127.0.0.1:9001"],
                  "loadBalancing": "fastest",
                  "pool": { "idleTimeout": "soon" }
                }
              }
            }
            """);

        var (exitCode, stdout, stderr) = await RunAsync("check", "--config", file);

        Assert.Equal(1, exitCode);
        Assert.Contains("4 error(s)", stderr, StringComparison.Ordinal);
        Assert.Contains("listeners[0].address = \"8080\":", stderr, StringComparison.Ordinal);
        Assert.Contains("routes[0].cluster = \"missing\":", stderr, StringComparison.Ordinal);
        Assert.Contains("clusters.app.loadBalancing = \"fastest\":", stderr, StringComparison.Ordinal);
        Assert.Contains("clusters.app.pool.idleTimeout = \"soon\":", stderr, StringComparison.Ordinal);
        Assert.Equal("", stdout);
    }

    [Fact]
    public async Task A_file_that_is_not_JSON_is_one_error_and_exit_1()
    {
        var file = Write("{ \"listeners\": [ ");

        var (exitCode, _, stderr) = await RunAsync("check", "--config", file);

        Assert.Equal(1, exitCode);
        Assert.Contains("1 error(s)", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_valid_config_exits_0()
    {
        var file = Write("""
            {
              "listeners": [{ "address": "127.0.0.1:8080" }],
              "routes": [{ "match": { "pathPrefix": "/api" }, "cluster": "app" }],
              "clusters": { "app": { "destinations": ["127.0.0.1:9001", "http://127.0.0.1:9002"], "pool": { "idleTimeout": "30s" } } }
            }
            """);

        var (exitCode, stdout, stderr) = await RunAsync("check", "--config", file);

        Assert.Equal(0, exitCode);
        Assert.Contains("OK (1 listener(s), 1 route(s), 1 cluster(s))", stdout, StringComparison.Ordinal);
        Assert.Equal("", stderr);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Write(string json)
    {
        var path = Path.Combine(_directory, "tether.json");
        File.WriteAllText(path, json);
        return path;
    }

    private Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args) => TetherCli.RunAsync(output, args);
}
