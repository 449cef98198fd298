using Tether.Doctor.Reporting;

namespace Tether.Doctor.Host;

/// <summary>
/// `tether doctor --host`: the kernel and process settings the keep-alive guides name, each compared with a
/// recommendation and the reason for it, and the sockets per TCP state. Reads only.
/// </summary>
public static class HostAudit
{
    public static HostAuditResult Run(HostFiles files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var sysctl = new List<SysctlLine>();
        var kernel = new List<CheckResult>
        {
            AtMost(files, sysctl, "net.ipv4.tcp_keepalive_time", 120, "60",
                "Linux waits 7200 s before the first keepalive probe: a dead peer, or a NAT/firewall that forgot an idle "
                + "connection, goes unnoticed for two hours. 60 s keeps middlebox state alive and finds dead peers in minutes."),
            AtMost(files, sysctl, "net.ipv4.tcp_keepalive_intvl", 30, "10",
                "Seconds between unanswered keepalive probes; with 6 probes, 10 s declares a peer dead one minute after the first miss."),
            AtMost(files, sysctl, "net.ipv4.tcp_keepalive_probes", 9, "6",
                "Unanswered probes before the connection is dropped."),
            AtLeast(files, sysctl, "net.core.somaxconn", 4096, "4096",
                "The cap on each listen backlog: bursts of new connections (scale-out, cache misses) beyond it are dropped or delayed."),
            AtMost(files, sysctl, "net.ipv4.tcp_fin_timeout", 30, "15",
                "How long an orphaned socket stays in FIN_WAIT_2; lower frees them sooner."),
            TwReuse(files, sysctl),
            PortRange(files, sysctl),
            Congestion(files, sysctl),
            Qdisc(files, sysctl),
            Conntrack(files),
            FileMax(files, sysctl),
            OpenFiles(files),
        };

        var sockets = TcpStateCounts.Read(files);
        var socketSection = Sockets(files, sockets);
        return new HostAuditResult([new ReportSection($"Host: kernel and process settings ({files.Root})", kernel), socketSection], sysctl);
    }

    private static CheckResult Missing(string name) =>
        new($"host.{name}", name, Verdict.Info, "not present on this host");

    private static CheckResult AtMost(HostFiles files, List<SysctlLine> sysctl, string name, long limit, string recommended, string why) =>
        Numeric(files, sysctl, name, value => value <= limit, $"≤ {limit}", recommended, why);

    private static CheckResult AtLeast(HostFiles files, List<SysctlLine> sysctl, string name, long limit, string recommended, string why) =>
        Numeric(files, sysctl, name, value => value >= limit, $"≥ {limit}", recommended, why);

    private static CheckResult Numeric(
        HostFiles files, List<SysctlLine> sysctl, string name, Func<long, bool> good, string target, string recommended, string why)
    {
        if (files.SysctlNumber(name) is not { } value)
        {
            return Missing(name);
        }

        var ok = good(value);
        sysctl.Add(new SysctlLine(name, recommended, why, !ok));
        return ok
            ? new CheckResult($"host.{name}", name, Verdict.Pass, $"{value} ({target})")
            : new CheckResult($"host.{name}", name, Verdict.Warn, $"{value}; recommended {recommended} ({target})", why);
    }

    private static CheckResult TwReuse(HostFiles files, List<SysctlLine> sysctl)
    {
        const string Name = "net.ipv4.tcp_tw_reuse";
        const string Why = "Lets new outgoing connections reuse a port still in TIME_WAIT when it is safe (timestamps), so a "
            + "proxy opening many upstream connections does not run out of local ports. 2 (the default) allows it on loopback only.";
        if (files.SysctlNumber(Name) is not { } value)
        {
            return Missing(Name);
        }

        sysctl.Add(new SysctlLine(Name, "1", Why, value != 1));
        return value == 1
            ? new CheckResult($"host.{Name}", Name, Verdict.Pass, "1 (enabled)")
            : new CheckResult($"host.{Name}", Name, Verdict.Warn, $"{value} ({(value == 2 ? "loopback only" : "off")}); recommended 1", Why);
    }

    private static CheckResult PortRange(HostFiles files, List<SysctlLine> sysctl)
    {
        const string Name = "net.ipv4.ip_local_port_range";
        const string Why = "Each outgoing connection to one destination needs its own local port (and keeps it in TIME_WAIT for 60 s "
            + "after closing): the range caps new connections per destination per minute.";
        var parts = files.Sysctl(Name)?.Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
        if (parts is not [var lowText, var highText] || !int.TryParse(lowText, out var low) || !int.TryParse(highText, out var high))
        {
            return Missing(Name);
        }

        var width = high - low + 1;
        var ok = width >= 28_000;
        sysctl.Add(new SysctlLine(Name, "1024 65535", Why, !ok));
        return ok
            ? new CheckResult($"host.{Name}", Name, Verdict.Pass, $"{low}-{high} ({Units.Number(width)} ports)")
                { Measurements = new Dictionary<string, double> { ["ports"] = width } }
            : new CheckResult($"host.{Name}", Name, Verdict.Warn, $"{low}-{high} (only {Units.Number(width)} ports); recommended 1024 65535", Why);
    }

    private static CheckResult Congestion(HostFiles files, List<SysctlLine> sysctl)
    {
        const string Name = "net.ipv4.tcp_congestion_control";
        var current = files.Sysctl(Name);
        if (current is null)
        {
            return Missing(Name);
        }

        var available = files.Sysctl("net.ipv4.tcp_available_congestion_control") ?? "";
        var finding = $"{current} (available: {available})";
        if (current == "bbr")
        {
            return new CheckResult($"host.{Name}", Name, Verdict.Pass, finding);
        }

        const string Why = "BBR paces by measured bandwidth and round trip instead of backing off on every loss; it keeps long-lived "
            + "connections fast after idle periods and on lossy paths (Linux 4.9+, with default_qdisc fq).";
        if (available.Split(' ').Contains("bbr"))
        {
            sysctl.Add(new SysctlLine(Name, "bbr", Why, true));
            return new CheckResult($"host.{Name}", Name, Verdict.Warn, finding + "; recommended bbr", Why);
        }

        return new CheckResult($"host.{Name}", Name, Verdict.Info, finding + "; bbr is not loaded",
            "To use BBR: modprobe tcp_bbr (and add it to /etc/modules-load.d), then set net.ipv4.tcp_congestion_control = bbr.");
    }

    private static CheckResult Qdisc(HostFiles files, List<SysctlLine> sysctl)
    {
        const string Name = "net.core.default_qdisc";
        var current = files.Sysctl(Name);
        if (current is null)
        {
            return Missing(Name);
        }

        const string Why = "fq paces packets per flow, which BBR relies on (required before Linux 4.13, still recommended).";
        var ok = current == "fq";
        sysctl.Add(new SysctlLine(Name, "fq", Why, !ok));
        return ok
            ? new CheckResult($"host.{Name}", Name, Verdict.Pass, current)
            : new CheckResult($"host.{Name}", Name, Verdict.Warn, $"{current}; recommended fq", Why);
    }

    private static CheckResult Conntrack(HostFiles files)
    {
        const string Name = "net.netfilter.nf_conntrack_max";
        var max = files.SysctlNumber(Name);
        var count = files.SysctlNumber("net.netfilter.nf_conntrack_count");
        if (max is not { } limit || count is not { } used)
        {
            return new CheckResult($"host.{Name}", "conntrack table", Verdict.Info, "connection tracking is not loaded (nothing to fill up)");
        }

        var ratio = limit == 0 ? 0 : (double)used / limit;
        var finding = $"{Units.Number(used)} of {Units.Number(limit)} entries ({ratio:P0})";
        var measurements = new Dictionary<string, double> { ["count"] = used, ["max"] = limit };
        const string Why = "When the table is full the kernel drops new connections (\"nf_conntrack: table full, dropping packet\"). "
            + "Raise net.netfilter.nf_conntrack_max, or shorten nf_conntrack_tcp_timeout_established.";
        return ratio switch
        {
            >= 0.9 => new CheckResult($"host.{Name}", "conntrack table", Verdict.Fail, finding, Why) { Measurements = measurements },
            >= 0.7 => new CheckResult($"host.{Name}", "conntrack table", Verdict.Warn, finding, Why) { Measurements = measurements },
            _ => new CheckResult($"host.{Name}", "conntrack table", Verdict.Pass, finding) { Measurements = measurements },
        };
    }

    private static CheckResult FileMax(HostFiles files, List<SysctlLine> sysctl) =>
        AtLeast(files, sysctl, "fs.file-max", 1_000_000, "1048576",
            "The system-wide cap on open files; every connection is one. Modern kernels default to a huge value.");

    private static CheckResult OpenFiles(HostFiles files)
    {
        var limit = OpenFilesLimit.Read(files);
        if (limit is null)
        {
            return new CheckResult("host.nofile", "open-files limit (this process)", Verdict.Info, "could not read /proc/self/limits");
        }

        var soft = limit.Soft?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unlimited";
        var hard = limit.Hard?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unlimited";
        var finding = $"soft {soft}, hard {hard}";
        return limit.Soft is null or >= 65_536
            ? new CheckResult("host.nofile", "open-files limit (this process)", Verdict.Pass, finding)
            : new CheckResult("host.nofile", "open-files limit (this process)", Verdict.Warn, finding + "; recommended ≥ 65536",
                "Each client and upstream connection is a file descriptor: at the limit, accept() fails with \"Too many open files\". "
                + "Raise it for the service (systemd LimitNOFILE=65536, or nofile in /etc/security/limits.conf); it is not a sysctl.");
    }

    private static ReportSection Sockets(HostFiles files, TcpStateCounts? counts)
    {
        if (counts is null)
        {
            return new ReportSection("Host: sockets by TCP state", [new CheckResult("host.sockets", "TCP sockets", Verdict.Info, "could not read /proc/net/tcp")]);
        }

        var table = new ReportTable("Sockets by TCP state (/proc/net/tcp and tcp6)", ["State", "Count"],
        [
            ["ESTABLISHED", Units.Number(counts.Established)],
            ["TIME_WAIT", Units.Number(counts.TimeWait)],
            ["CLOSE_WAIT", Units.Number(counts.CloseWait)],
            ["all states", Units.Number(counts.Total)],
        ]);
        var parts = files.Sysctl("net.ipv4.ip_local_port_range")?.Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
        var ports = parts is [var low, var high] && int.TryParse(low, out var l) && int.TryParse(high, out var h) ? h - l + 1 : 28_232;
        var share = (double)counts.TimeWait / ports;
        const string TimeWaitWhy = "Each TIME_WAIT socket holds a local port for 60 s. Reuse connections (keep-alive, pooled upstream "
            + "connections) instead of opening one per request; net.ipv4.tcp_tw_reuse = 1 lets the kernel reuse them safely.";
        var timeWait = new CheckResult("host.timeWait", "TIME_WAIT", share switch
        {
            >= 0.8 => Verdict.Fail,
            >= 0.25 => Verdict.Warn,
            _ => Verdict.Pass,
        }, $"{Units.Number(counts.TimeWait)} sockets ({share:P1} of {Units.Number(ports)} local ports)", share >= 0.25 ? TimeWaitWhy : null)
        {
            Measurements = new Dictionary<string, double> { ["count"] = counts.TimeWait },
        };
        var closeWait = counts.CloseWait >= 100
            ? new CheckResult("host.closeWait", "CLOSE_WAIT", Verdict.Warn, $"{Units.Number(counts.CloseWait)} sockets",
                "The peer closed these and a local process has not: a socket leak. `ss -tnp state close-wait` names the process.")
            : new CheckResult("host.closeWait", "CLOSE_WAIT", Verdict.Pass, $"{Units.Number(counts.CloseWait)} sockets");
        var established = new CheckResult("host.established", "ESTABLISHED", Verdict.Info, $"{Units.Number(counts.Established)} sockets");
        return new ReportSection("Host: sockets by TCP state", [established, timeWait, closeWait]) { Tables = [table] };
    }
}
