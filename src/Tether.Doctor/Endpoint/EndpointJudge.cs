using System.Security.Authentication;
using Tether.Doctor.Reporting;

namespace Tether.Doctor.Endpoint;

/// <summary>Turns endpoint findings into checks with verdicts and plain advice.</summary>
public static class EndpointJudge
{
    public static ReportSection[] Judge(EndpointOptions options, EndpointFindings findings)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(findings);
        var reuse = new ReportSection($"Connection reuse: {options.Target.Uri}",
        [
            Saving(findings.Timing),
            KeepAlive(findings.KeepAlive),
            RequestCap(findings.KeepAlive),
            IdleTimeout(findings.Idle, options.Budget),
            AdvertisedTimeout(findings.KeepAlive, findings.Idle),
        ])
        {
            Tables = [TimingTable(findings.Timing)],
        };
        return [reuse, Protocols(options, findings.Timing, findings.Http2)];
    }

    /// <summary>The HTTP/2 and TLS section; without HTTP/1.1 timings (an h2-only server) the TLS rows are left out.</summary>
    public static ReportSection Protocols(EndpointOptions options, TimingResult? timing, Http2Result http2)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(http2);
        var protocols = new List<CheckResult>();
        if (options.Target.UseTls && timing is not null)
        {
            protocols.Add(Tls(timing, http2, options.Insecure));
            protocols.Add(TlsResumption(timing, System.Net.IPAddress.TryParse(options.Target.Host, out _)));
        }

        protocols.Add(Http2(http2));
        protocols.Add(Multiplexing(http2));
        return new ReportSection("HTTP/2 and TLS", protocols);
    }

    /// <summary>The advice a client pool needs: stay below the earliest close, with a margin for jitter.</summary>
    public static TimeSpan SuggestedClientExpiry(TimeSpan safeLimit)
    {
        var margin = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(500).Ticks, safeLimit.Ticks / 10));
        var suggestion = safeLimit - margin;
        return suggestion > TimeSpan.Zero ? TimeSpan.FromSeconds(Math.Floor(suggestion.TotalSeconds * 10) / 10) : TimeSpan.Zero;
    }

    private static ReportTable TimingTable(TimingResult timing)
    {
        static string Cell(IEnumerable<TimeSpan> values) => Units.Duration(TimingResult.Median(values));
        var cold = timing.Cold;
        var warm = timing.Warm;
        var warmTtfb = warm.Count > 0 ? Cell(warm.Select(w => w.TimeToFirstByte)) : "-";
        var warmTotal = warm.Count > 0 ? Cell(warm.Select(w => w.Total)) : "-";
        List<IReadOnlyList<string>> rows =
        [
            ["DNS", Cell(cold.Select(c => c.Dns)), "0 (reused)"],
            ["TCP connect", Cell(cold.Select(c => c.Connect)), "0 (reused)"],
        ];
        if (cold.Any(c => c.TlsHandshake is not null))
        {
            rows.Add(["TLS handshake", Cell(cold.Select(c => c.TlsHandshake ?? TimeSpan.Zero)), "0 (reused)"]);
        }

        rows.Add(["Time to first byte", Cell(cold.Select(c => c.TimeToFirstByte)), warmTtfb]);
        rows.Add(["Total per request", Cell(cold.Select(c => c.Total)), warmTotal]);
        return new ReportTable($"Timings, median of {cold.Count} cold (new connection) and {warm.Count} warm (reused) requests",
            ["Phase", "Cold", "Warm"], rows);
    }

    private static CheckResult Saving(TimingResult timing)
    {
        if (timing.Warm.Count == 0)
        {
            return new CheckResult("endpoint.reuseSaving", "Saving from reuse", Verdict.Info, "no warm request was possible: the server closed every connection");
        }

        var cold = TimingResult.Median(timing.Cold.Select(c => c.Total));
        var warm = TimingResult.Median(timing.Warm.Select(w => w.Total));
        var saving = cold - warm;
        return new CheckResult("endpoint.reuseSaving", "Saving from reuse", Verdict.Pass,
            $"a reused connection saves {Units.Duration(saving)} per request ({Units.Duration(cold)} cold, {Units.Duration(warm)} warm)")
        {
            Measurements = new Dictionary<string, double>
            {
                ["coldMilliseconds"] = cold.TotalMilliseconds,
                ["warmMilliseconds"] = warm.TotalMilliseconds,
                ["savingMilliseconds"] = saving.TotalMilliseconds,
            },
        };
    }

    private static CheckResult KeepAlive(KeepAliveResult result)
    {
        var first = result.FirstResponse;
        var headers = $"{first.Version} {first.StatusCode}, Connection: {first.Header("Connection") ?? "(none)"}"
            + (first.Header("Keep-Alive") is { } keepAlive ? $", Keep-Alive: {keepAlive}" : "");
        if (!result.KeptAlive)
        {
            return new CheckResult("endpoint.keepAlive", "Keeps the connection", Verdict.Fail,
                $"no: {result.CloseReason} ({headers})",
                "The server closes after every response, so each request pays for a new connection. Enable keep-alive "
                + "(nginx keepalive_timeout > 0; no 'Connection: close' from the application; HTTP/1.1, not 1.0).");
        }

        return new CheckResult("endpoint.keepAlive", "Keeps the connection", Verdict.Pass,
            $"yes: {result.Completed} sequential requests answered on one socket ({headers})");
    }

    private static CheckResult RequestCap(KeepAliveResult result)
    {
        if (!result.KeptAlive)
        {
            return new CheckResult("endpoint.maxRequests", "Requests per connection", Verdict.Info, "not applicable: the connection is not kept");
        }

        if (result.ClosedAfter is { } cap)
        {
            return new CheckResult("endpoint.maxRequests", "Requests per connection", Verdict.Warn,
                $"the server ends a connection after {cap} requests ({result.CloseReason})",
                $"Set the client pool's maxRequestsPerConnection to {cap} or less, so the client retires the connection "
                + "before the server closes it under a request in flight (nginx keepalive_requests).")
            {
                Measurements = new Dictionary<string, double> { ["maxRequests"] = cap },
            };
        }

        return new CheckResult("endpoint.maxRequests", "Requests per connection", Verdict.Pass,
            $"no cap seen within {result.Attempted} requests");
    }

    private static CheckResult IdleTimeout(IdleTimeoutEstimate idle, TimeSpan budget)
    {
        const string Id = "endpoint.idleTimeout";
        const string Title = "Idle timeout (measured)";
        var measurements = new Dictionary<string, double>
        {
            ["valueSeconds"] = idle.Value.TotalSeconds,
            ["uncertaintySeconds"] = idle.Uncertainty.TotalSeconds,
            ["lowerBoundSeconds"] = idle.LowerBound.TotalSeconds,
            ["closesSeen"] = idle.Closes,
            ["elapsedSeconds"] = idle.Elapsed.TotalSeconds,
        };
        switch (idle.Kind)
        {
            case IdleTimeoutKind.Measured:
                var safe = idle.SafeClientExpiry!.Value;
                var window = idle.Closes > 1 ? $", {idle.Closes} closes seen between {Units.Duration(idle.EarliestClose!.Value)} and {Units.Duration(idle.LatestClose!.Value)}" : "";
                return new CheckResult(Id, Title, Verdict.Pass,
                    $"the server closes idle connections after {Units.Duration(idle.Value)} ± {Units.Duration(idle.Uncertainty)}{window}",
                    $"Your pool's idle expiry must be below {Units.Duration(safe)} for this server "
                    + $"(e.g. pool.idleTimeout = {Units.Seconds(SuggestedClientExpiry(safe))}).")
                { Measurements = measurements };
            case IdleTimeoutKind.Bracketed:
                return new CheckResult(Id, Title, Verdict.Warn,
                    $"idle connections die silently (no FIN) after {Units.Duration(idle.Value)} ± {Units.Duration(idle.Uncertainty)}",
                    $"Something drops idle connections without closing them (a NAT or firewall?): a client that reuses one "
                    + $"gets a reset or a hang. Keep pool expiry below {Units.Duration(idle.LowerBound)} and TCP keepalive idle below it too.")
                { Measurements = measurements };
            case IdleTimeoutKind.LongerThanBudget:
                return new CheckResult(Id, Title, Verdict.Pass,
                    $"longer than the budget: connections still open after {Units.Duration(idle.LowerBound)} idle",
                    $"Rerun with --budget longer than {Units.Seconds(budget)} to measure it; any pool expiry below "
                    + $"{Units.Duration(idle.LowerBound)} is safe.")
                { Measurements = measurements };
            case IdleTimeoutKind.NotKeptAlive:
                return new CheckResult(Id, Title, Verdict.Info, "not applicable: the server does not keep connections");
            default:
                return new CheckResult(Id, Title, Verdict.Fail, "no probe connection could be opened or used",
                    "Check that the server accepts several connections at once.");
        }
    }

    private static CheckResult AdvertisedTimeout(KeepAliveResult keepAlive, IdleTimeoutEstimate idle)
    {
        const string Id = "endpoint.keepAliveHeader";
        const string Title = "Keep-Alive header";
        if (keepAlive.FirstResponse.AdvertisedIdleTimeout is not { } advertised)
        {
            return new CheckResult(Id, Title, Verdict.Info, "not sent: a client cannot learn the idle timeout except by measuring it (as above)");
        }

        if (idle.Kind == IdleTimeoutKind.Measured && advertised > idle.Value + idle.Uncertainty + TimeSpan.FromSeconds(1))
        {
            return new CheckResult(Id, Title, Verdict.Warn,
                $"advertises timeout={advertised.TotalSeconds:0} s but closed idle connections after {Units.Duration(idle.Value)}",
                "Clients that trust the header (SocketsHttpHandler does) will reuse connections the server has closed; make the header match.");
        }

        return new CheckResult(Id, Title, Verdict.Pass, $"advertises timeout={advertised.TotalSeconds:0} s, consistent with what was measured");
    }

    private static CheckResult Tls(TimingResult timing, Http2Result http2, bool insecure)
    {
        var tls = timing.Cold[0].Tls!;
        var alpn = http2.Alpn ?? tls.ApplicationProtocol;
        var finding = $"{Describe(tls.Protocol)}, {tls.CipherSuite}, ALPN {(alpn.Length == 0 ? "(none)" : alpn)} (offered h2, http/1.1)";
        if (tls.CertificateError is { } error)
        {
            return new CheckResult("endpoint.tls", "TLS", Verdict.Warn, $"{finding}; certificate not trusted: {error}"
                + (insecure ? " (accepted because of --insecure)" : ""), "Serve a certificate that chains to a trusted root and names this host.");
        }

#pragma warning disable SYSLIB0039 // TLS 1.0/1.1 are named here only to flag them.
        var old = tls.Protocol is SslProtocols.Tls or SslProtocols.Tls11;
#pragma warning restore SYSLIB0039
        return old
            ? new CheckResult("endpoint.tls", "TLS", Verdict.Warn, finding, "TLS 1.2 is the minimum; prefer TLS 1.3 (one round trip less).")
            : new CheckResult("endpoint.tls", "TLS", Verdict.Pass, finding);
    }

    private static CheckResult TlsResumption(TimingResult timing, bool ipLiteral)
    {
        var later = timing.Cold.Skip(1).Where(c => c.Tls is not null).ToList();
        if (later.Count == 0 || later.All(c => c.Tls!.Resumed is null))
        {
            return new CheckResult("endpoint.tlsResumption", "TLS session resumption", Verdict.Info, "could not tell from the handshakes");
        }

        var resumed = later.Where(c => c.Tls!.Resumed == true).ToList();
        var full = timing.Cold[0].TlsHandshake ?? TimeSpan.Zero;
        if (resumed.Count == 0 && ipLiteral)
        {
            // The .NET TLS client keys its session cache by SNI host name and sends no SNI for an IP address,
            // so it never offers a session to resume here: that says nothing about the server.
            return new CheckResult("endpoint.tlsResumption", "TLS session resumption", Verdict.Info,
                $"not offered by the doctor: no session cache for an IP address (full handshake {Units.Duration(full)})",
                "Probe the server by its host name to check resumption.");
        }

        if (resumed.Count == 0)
        {
            return new CheckResult("endpoint.tlsResumption", "TLS session resumption", Verdict.Warn,
                $"none of {later.Count} new connections resumed the session (full handshake {Units.Duration(full)})",
                "Enable session tickets or a session cache (nginx ssl_session_cache / ssl_session_tickets) so reconnects skip the full handshake.");
        }

        var quick = TimingResult.Median(resumed.Select(c => c.TlsHandshake ?? TimeSpan.Zero));
        return new CheckResult("endpoint.tlsResumption", "TLS session resumption", Verdict.Pass,
            $"{resumed.Count} of {later.Count} new connections resumed (handshake {Units.Duration(quick)} vs {Units.Duration(full)} full)");
    }

    private static CheckResult Http2(Http2Result http2) =>
        http2.Supported
            ? new CheckResult("endpoint.http2", "HTTP/2", Verdict.Pass,
                $"supported via {http2.How}; max concurrent streams {(http2.MaxConcurrentStreams is { } m ? m.ToString(System.Globalization.CultureInfo.InvariantCulture) : "not limited")}")
            : new CheckResult("endpoint.http2", "HTTP/2", Verdict.Info, $"not offered: {http2.How}",
                "Without HTTP/2 each concurrent request needs its own connection; a client pool must hold as many as its concurrency.");

    private static CheckResult Multiplexing(Http2Result http2)
    {
        if (!http2.Supported)
        {
            return new CheckResult("endpoint.multiplexing", "Multiplexing", Verdict.Info, "not applicable without HTTP/2");
        }

        return http2.Multiplexed
            ? new CheckResult("endpoint.multiplexing", "Multiplexing", Verdict.Pass,
                $"{http2.ConcurrentRequests} concurrent requests completed on {http2.ConnectionsUsed} connection")
            : new CheckResult("endpoint.multiplexing", "Multiplexing", Verdict.Warn,
                $"{http2.ConcurrentRequests} concurrent requests used {http2.ConnectionsUsed} connection(s){(http2.Error is null ? "" : ": " + http2.Error)}");
    }

    private static string Describe(SslProtocols protocol) => protocol switch
    {
        SslProtocols.Tls13 => "TLS 1.3",
        SslProtocols.Tls12 => "TLS 1.2",
        _ => protocol.ToString(),
    };
}
