using Microsoft.AspNetCore.Server.Kestrel.Core;
using Tether.Doctor.Endpoint;
using Tether.Doctor.Http;
using Tether.Doctor.Reporting;
using Tether.Doctor.Tests.Servers;
using Xunit.Abstractions;

namespace Tether.Doctor.Tests.Endpoint;

public sealed class EndpointDoctorTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Server_that_answers_Connection_close_is_reported_as_not_keeping_alive()
    {
        await using var nginx = await NginxOrigin.StartAsync("keepalive_timeout 0;");

        var report = await RunAsync(nginx.Url, TimeSpan.FromSeconds(5));

        var keepAlive = report.Find("endpoint.keepAlive")!;
        Assert.Equal(Verdict.Fail, keepAlive.Verdict);
        Assert.Contains("Connection: close on response 1", keepAlive.Finding, StringComparison.Ordinal);
        Assert.Equal(Verdict.Info, report.Find("endpoint.idleTimeout")!.Verdict);
        Assert.Equal(1, report.ExitCode);
    }

    [Fact]
    public async Task Nginx_keepalive_requests_5_is_detected_and_its_idle_timeout_measured()
    {
        await using var nginx = await NginxOrigin.StartAsync("keepalive_timeout 3s; keepalive_requests 5;");

        var report = await RunAsync(nginx.Url, TimeSpan.FromSeconds(8));

        var cap = report.Find("endpoint.maxRequests")!;
        Assert.Equal(Verdict.Warn, cap.Verdict);
        Assert.Equal(5, cap.Measurements!["maxRequests"]);
        Assert.Contains("Connection: close on response 5", cap.Finding, StringComparison.Ordinal);
        var idle = report.Find("endpoint.idleTimeout")!;
        Assert.InRange(idle.Measurements!["valueSeconds"], 2.5, 3.5);
        Assert.Contains("must be below", idle.Advice, StringComparison.Ordinal);
        Assert.Equal(Verdict.Pass, report.Find("endpoint.keepAlive")!.Verdict);
        Assert.Equal(0, report.ExitCode);
    }

    [Fact]
    public async Task Tls_listener_reports_version_cipher_alpn_resumption_and_multiplexing()
    {
        using var certificate = SelfSignedCertificate.Create();
        await using var kestrel = await KestrelOrigin.StartAsync(TimeSpan.FromSeconds(2), certificate);

        var report = await RunAsync(kestrel.Url, TimeSpan.FromSeconds(6), insecure: true);

        var tls = report.Find("endpoint.tls")!;
        Assert.Contains("TLS 1.3", tls.Finding, StringComparison.Ordinal);
        Assert.Contains("ALPN h2", tls.Finding, StringComparison.Ordinal);
        Assert.Contains("certificate not trusted", tls.Finding, StringComparison.Ordinal);
        Assert.Equal(Verdict.Pass, report.Find("endpoint.http2")!.Verdict);
        Assert.Contains("ALPN h2", report.Find("endpoint.http2")!.Finding, StringComparison.Ordinal);
        Assert.Equal(Verdict.Pass, report.Find("endpoint.multiplexing")!.Verdict);
        Assert.NotEqual(Verdict.Fail, report.Find("endpoint.tlsResumption")!.Verdict);
    }

    [Fact]
    public async Task Cleartext_http2_prior_knowledge_is_detected_on_kestrel()
    {
        // Kestrel speaks h2c only on an HTTP/2-only endpoint (Http1AndHttp2 without TLS is HTTP/1.1), so the
        // HTTP/1.1 probes fail here and the report says so; the HTTP/2 section stands on its own.
        await using var kestrel = await KestrelOrigin.StartAsync(TimeSpan.FromSeconds(2), protocols: HttpProtocols.Http2, maxStreams: 64);

        var report = await RunAsync(kestrel.Url, TimeSpan.FromSeconds(4));

        var http2 = report.Find("endpoint.http2")!;
        Assert.Equal(Verdict.Pass, http2.Verdict);
        Assert.Contains("prior knowledge", http2.Finding, StringComparison.Ordinal);
        Assert.Contains("64", http2.Finding, StringComparison.Ordinal);
        Assert.Equal(Verdict.Pass, report.Find("endpoint.multiplexing")!.Verdict);
    }

    [Fact]
    public async Task Unreachable_endpoint_is_one_failed_check()
    {
        var report = await RunAsync($"http://127.0.0.1:{FreePort.Pick()}/", TimeSpan.FromSeconds(1));

        Assert.Equal(Verdict.Fail, report.Find("endpoint.connect")!.Verdict);
    }

    private async Task<DoctorReport> RunAsync(string url, TimeSpan budget, bool insecure = false)
    {
        Assert.True(ProbeTarget.TryParse(url, out var target, out _));
        var sections = await new EndpointDoctor(TimeProvider.System)
            .RunAsync(new EndpointOptions(target!) { Budget = budget, Insecure = insecure }, null, CancellationToken.None);
        var report = new DoctorReport(url, sections);
        using var text = new StringWriter();
        TerminalReportWriter.Write(report, text);
        output.WriteLine(text.ToString());
        return report;
    }
}
