using Tether.Doctor.Tests.Servers;

namespace Tether.Doctor.Tests;

public sealed class DoctorRunnerTests
{
    [Fact]
    public async Task No_url_and_no_host_is_a_usage_error()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exitCode = await DoctorRunner.RunAsync(new DoctorRequest(), output, error, TimeProvider.System, CancellationToken.None);

        Assert.Equal(2, exitCode);
        Assert.Contains("--host", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, await DoctorRunner.RunAsync(new DoctorRequest { Url = "ftp://x" }, output, error, TimeProvider.System, CancellationToken.None));
    }

    [Fact]
    public async Task Host_audit_as_json_with_a_sysctl_snippet_written_and_nothing_applied()
    {
        var snippet = Path.Combine(Path.GetTempPath(), $"tether-doctor-{Guid.NewGuid():N}.conf");
        using var output = new StringWriter();
        using var error = new StringWriter();
        try
        {
            var exitCode = await DoctorRunner.RunAsync(
                new DoctorRequest { Host = true, Json = true, WriteSysctl = snippet }, output, error, TimeProvider.System, CancellationToken.None);

            using var json = System.Text.Json.JsonDocument.Parse(output.ToString());
            Assert.Equal(exitCode, json.RootElement.GetProperty("summary").GetProperty("exitCode").GetInt32());
            Assert.Contains("net.ipv4.tcp_keepalive_time", await File.ReadAllTextAsync(snippet), StringComparison.Ordinal);
            Assert.Contains("nothing was applied", error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(snippet);
        }
    }

    [Fact]
    public async Task Terminal_report_for_a_url_names_every_check()
    {
        await using var nginx = await NginxOrigin.StartAsync("keepalive_timeout 1s;");
        using var output = new StringWriter();

        var exitCode = await DoctorRunner.RunAsync(
            new DoctorRequest { Url = nginx.Url, Budget = TimeSpan.FromSeconds(4) }, output, TextWriter.Null, TimeProvider.System, CancellationToken.None);

        Assert.Equal(0, exitCode);
        var text = output.ToString();
        foreach (var title in new[] { "Time to first byte", "Keeps the connection", "Requests per connection", "Idle timeout (measured)", "HTTP/2", "passed" })
        {
            Assert.Contains(title, text, StringComparison.Ordinal);
        }
    }
}
