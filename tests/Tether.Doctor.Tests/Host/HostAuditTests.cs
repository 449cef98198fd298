using Tether.Doctor.Host;
using Tether.Doctor.Reporting;

namespace Tether.Doctor.Tests.Host;

public sealed class HostAuditTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("tether-doctor-proc-");

    public void Dispose() => _root.Delete(recursive: true);

    [Fact]
    public void Linux_defaults_get_warnings_with_reasons_and_sockets_are_counted_per_state()
    {
        WriteDefaults();
        WriteTcp("proc/net/tcp", "01", "01", "06", "06", "06", "08", "0A");
        WriteTcp("proc/net/tcp6", "01", "06");

        var result = HostAudit.Run(new HostFiles(_root.FullName));
        var report = new DoctorReport("fake", result.Sections);

        var keepAlive = report.Find("host.net.ipv4.tcp_keepalive_time")!;
        Assert.Equal(Verdict.Warn, keepAlive.Verdict);
        Assert.Contains("7200", keepAlive.Finding, StringComparison.Ordinal);
        Assert.Contains("two hours", keepAlive.Advice, StringComparison.Ordinal);
        Assert.Equal(Verdict.Pass, report.Find("host.net.ipv4.tcp_keepalive_probes")!.Verdict);
        Assert.Equal(Verdict.Warn, report.Find("host.net.ipv4.tcp_tw_reuse")!.Verdict);
        Assert.Equal(Verdict.Warn, report.Find("host.net.core.somaxconn")!.Verdict);
        Assert.Equal(Verdict.Pass, report.Find("host.net.ipv4.ip_local_port_range")!.Verdict);
        Assert.Equal(Verdict.Warn, report.Find("host.net.ipv4.tcp_congestion_control")!.Verdict);
        Assert.Equal(Verdict.Warn, report.Find("host.nofile")!.Verdict);
        Assert.Equal(Verdict.Info, report.Find("host.net.netfilter.nf_conntrack_max")!.Verdict);
        Assert.Equal(4, report.Find("host.timeWait")!.Measurements!["count"]);
        Assert.Contains("3 sockets", report.Find("host.established")!.Finding, StringComparison.Ordinal);
        Assert.Contains("1 sockets", report.Find("host.closeWait")!.Finding, StringComparison.Ordinal);
        Assert.Equal(0, report.ExitCode);
    }

    [Fact]
    public void A_nearly_full_conntrack_table_fails_and_a_tuned_host_passes()
    {
        WriteDefaults();
        Write("proc/sys/net/ipv4/tcp_keepalive_time", "60");
        Write("proc/sys/net/ipv4/tcp_tw_reuse", "1");
        Write("proc/sys/net/ipv4/tcp_congestion_control", "bbr");
        Write("proc/sys/net/core/default_qdisc", "fq");
        Write("proc/sys/net/netfilter/nf_conntrack_max", "1000");
        Write("proc/sys/net/netfilter/nf_conntrack_count", "950");

        var report = new DoctorReport("fake", HostAudit.Run(new HostFiles(_root.FullName)).Sections);

        Assert.Equal(Verdict.Pass, report.Find("host.net.ipv4.tcp_keepalive_time")!.Verdict);
        Assert.Equal(Verdict.Pass, report.Find("host.net.ipv4.tcp_congestion_control")!.Verdict);
        Assert.Equal(Verdict.Fail, report.Find("host.net.netfilter.nf_conntrack_max")!.Verdict);
        Assert.Equal(1, report.ExitCode);
    }

    [Fact]
    public void Sysctl_snippet_sets_what_is_off_and_comments_out_what_is_fine()
    {
        WriteDefaults();

        var snippet = SysctlSnippet.Format(HostAudit.Run(new HostFiles(_root.FullName)).Sysctl, DateTimeOffset.UnixEpoch);

        Assert.Contains("\nnet.ipv4.tcp_keepalive_time = 60\n", snippet, StringComparison.Ordinal);
        Assert.Contains("\nnet.ipv4.tcp_tw_reuse = 1\n", snippet, StringComparison.Ordinal);
        Assert.Contains("# already fine: net.ipv4.tcp_keepalive_probes = 6", snippet, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed", snippet, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_root_reports_missing_settings_as_info()
    {
        var report = new DoctorReport("empty", HostAudit.Run(new HostFiles(_root.FullName)).Sections);

        Assert.All(report.AllChecks, c => Assert.Equal(Verdict.Info, c.Verdict));
    }

    [Fact]
    public void Smoke_the_real_proc_tree_reads_settings_and_socket_counts()
    {
        if (!File.Exists("/proc/net/tcp"))
        {
            return; // not Linux: nothing real to read
        }

        var report = new DoctorReport("host", HostAudit.Run(new HostFiles("/")).Sections);

        Assert.NotEqual(Verdict.Info, report.Find("host.net.ipv4.tcp_keepalive_time")!.Verdict);
        Assert.NotNull(report.Find("host.timeWait")!.Measurements);
        Assert.NotEqual(Verdict.Info, report.Find("host.nofile")!.Verdict);
    }

    private void WriteDefaults()
    {
        Write("proc/sys/net/ipv4/tcp_keepalive_time", "7200");
        Write("proc/sys/net/ipv4/tcp_keepalive_intvl", "75");
        Write("proc/sys/net/ipv4/tcp_keepalive_probes", "9");
        Write("proc/sys/net/core/somaxconn", "4096");
        Write("proc/sys/net/core/somaxconn", "128");
        Write("proc/sys/net/ipv4/tcp_fin_timeout", "60");
        Write("proc/sys/net/ipv4/tcp_tw_reuse", "2");
        Write("proc/sys/net/ipv4/ip_local_port_range", "32768\t60999");
        Write("proc/sys/net/ipv4/tcp_congestion_control", "cubic");
        Write("proc/sys/net/ipv4/tcp_available_congestion_control", "reno cubic bbr");
        Write("proc/sys/net/core/default_qdisc", "pfifo_fast");
        Write("proc/sys/fs/file-max", "9223372036854775807");
        Write("proc/self/limits", "Limit                     Soft Limit           Hard Limit           Units     \n"
            + "Max cpu time              unlimited            unlimited            seconds   \n"
            + "Max open files            1024                 524288               files     \n");
    }

    private void WriteTcp(string path, params string[] states)
    {
        var lines = new List<string> { "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode" };
        for (var i = 0; i < states.Length; i++)
        {
            lines.Add($"   {i}: 0100007F:1F90 0100007F:D2A4 {states[i]} 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0000000000000000 20 4 30 10 -1");
        }

        Write(path, string.Join('\n', lines) + "\n");
    }

    private void Write(string relative, string content)
    {
        var path = Path.Combine(_root.FullName, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content + (content.EndsWith('\n') ? "" : "\n"));
    }
}
