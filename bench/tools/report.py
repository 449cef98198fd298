"""Medians, ratios and the issue's targets, written as Markdown (bench/results/latest.md), JSON and an
SVG chart; optionally also into docs/benchmarks.md between its results markers."""
import json
import os
import re
import statistics

import svgchart

PROXIES = ["tether", "nginx", "haproxy"]
NAMES = {"tether": "Tether", "nginx": "nginx", "haproxy": "HAProxy", "direct": "backend alone"}

# key, label, short label for the chart
SCENARIOS = [
    ("small", "HTTP/1.1 keep-alive, 64 conns, 19 B body", "64 conns, 19 B"),
    ("xform", "As 64 conns, 19 B, with one request header set (transform)", "+ 1 header transform"),
    ("16k", "HTTP/1.1 keep-alive, 64 conns, 16 KB body", "64 conns, 16 KB"),
    ("1m", "HTTP/1.1 keep-alive, 64 conns, 1 MB body", "64 conns, 1 MB"),
    ("post4k", "POST 4 KB body, 64 conns", "POST 4 KB"),
    ("latency", "1 connection (latency)", "1 connection"),
    ("h2tls", "HTTP/2 over TLS, h2load -c16 -m10", "HTTP/2 + TLS"),
    ("noka", "Upstream keep-alive off, 64 conns, 19 B", "upstream keep-alive off"),
]
# Issue 12's scenarios (opt-in): backends over TLS and HTTP/2, with the backend alone ("direct") as a baseline.
BACKEND_SCENARIOS = [
    ("grpc", "gRPC unary over h2c, h2load -c16 -m10, 32-byte message", "gRPC unary"),
    ("httpsbackend", "HTTPS backend, upstream keep-alive, 64 conns, 19 B", "HTTPS backend"),
    ("httpsbackend-nokeepalive", "HTTPS backend, upstream keep-alive off, 64 conns, 19 B", "HTTPS backend, keep-alive off"),
]
CLASSIC_KEYS = {key for key, _, _ in SCENARIOS} | {"idle"}
BACKEND_KEYS = {key for key, _, _ in BACKEND_SCENARIOS}
DOCS_BEGIN = "<!-- bench:results:begin -->"
DOCS_END = "<!-- bench:results:end -->"
DOCS_BACKENDS_BEGIN = "<!-- bench:backends:begin -->"
DOCS_BACKENDS_END = "<!-- bench:backends:end -->"


def read_meta(path: str) -> dict:
    meta = {}
    if os.path.exists(path):
        for line in open(path):
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                meta[key] = value
    return meta


class Results:
    def __init__(self, records: list):
        self.records = records

    def values(self, scenario: str, proxy: str, field: str) -> list:
        return [r[field] for r in self.records
                if r["scenario"] == scenario and r["proxy"] == proxy and "failed" not in r and field in r]

    def median(self, scenario: str, proxy: str, field: str):
        v = self.values(scenario, proxy, field)
        return statistics.median(v) if v else None

    def tether_failed(self, scenario: str) -> str:
        """Why Tether has no figure for a scenario it ran, or "" if it has one or did not run it."""
        mine = [r for r in self.records if r["scenario"] == scenario and r["proxy"] == "tether"]
        if mine and all("failed" in r for r in mine):
            return mine[0]["failed"].split(" (")[0]
        return ""

    def has(self, keys: set) -> bool:
        return any(r["scenario"] in keys for r in self.records)

    def failures(self, keys=None) -> list:
        out = []
        for r in self.records:
            if keys is not None and r["scenario"] not in keys:
                continue
            peers = [o.get("rps", 0) for o in self.records if o["round"] == r["round"]
                     and o["scenario"] == r["scenario"] and o["proxy"] != r["proxy"] and "failed" not in o]
            if "failed" not in r and "rps" in r and peers and r["rps"] < 0.01 * max(peers):
                out.append(f"round {r['round']}, {NAMES.get(r['proxy'], r['proxy'])}, {r['scenario']}: only "
                           f"{r.get('ok', 0):,} answers in {r.get('seconds', 0):.1f} s (peers: {max(peers):,.0f}/s); "
                           "responses stall")
            elif "failed" in r:
                out.append(f"round {r['round']}, {NAMES.get(r['proxy'], r['proxy'])}, {r['scenario']}: {r['failed']}")
            elif r.get("non_2xx") or r.get("socket_errors"):
                out.append(f"round {r['round']}, {NAMES.get(r['proxy'], r['proxy'])}, {r['scenario']}: "
                           f"{r.get('non_2xx', 0)} non-2xx answers, {r.get('socket_errors', 0)} socket errors "
                           f"of {r.get('requests', 0)} requests")
            elif r.get("note"):
                out.append(f"round {r['round']}, {NAMES.get(r['proxy'], r['proxy'])}, {r['scenario']}: {r['note']}")
        return out


def fmt_num(v, kind: str) -> str:
    return "–" if v is None else svgchart.fmt(v, kind)


def ratio(a, b) -> str:
    if a is None or b is None or b == 0:
        return "–"
    r = a / b
    # Three decimals where two would round a miss (0.996) up to 1.00, or a pass down to it.
    return f"{r:.3f}×" if 0.995 <= r < 1.005 else f"{r:.2f}×"


def table(header: list, rows: list, text_columns: int = 1) -> list:
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" if i < text_columns else "---:" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def metric_rows(res: Results, items: list, direct: bool = False) -> list:
    """items: (label, scenario, field, kind). direct: a first column for the backend alone."""
    rows = []
    for label, scenario, field, kind in items:
        m = {p: res.median(scenario, p, field) for p in PROXIES + ["direct"]}
        rows.append([label] + ([fmt_num(m["direct"], kind)] if direct else []) + [fmt_num(m[p], kind) for p in PROXIES]
                    + [ratio(m["tether"], m["nginx"]), ratio(m["tether"], m["haproxy"])])
    return rows


def verdict_for(res: Results, ok, scenario: str = "") -> str:
    if ok is None:
        failed = res.tether_failed(scenario)
        return f"**not met**: {failed}" if failed else "–"
    return "met" if ok else "**not met**"


def backend_targets(res: Results) -> list:
    rows = []
    for key, label in (("grpc", "gRPC unary"), ("httpsbackend", "HTTPS backend, upstream keep-alive")):
        if not res.values(key, "nginx", "rps") and not res.tether_failed(key):
            continue
        a, b = res.median(key, "tether", "rps"), res.median(key, "nginx", "rps")
        rows.append([f"{label}: ≥ 1.0× nginx req/s", ratio(a, b),
                     verdict_for(res, None if None in (a, b) else a >= b, key)])
    key = "httpsbackend-nokeepalive"
    if res.values(key, "nginx", "rps") or res.tether_failed(key):
        m = {p: res.median(key, p, "tls_resumed_pct") for p in PROXIES}
        peers = ", ".join(f"{NAMES[p]} {m[p]:.1f}%" for p in ("nginx", "haproxy") if m[p] is not None)
        reached = ("–" if m["tether"] is None else f"{m['tether']:.1f}%") + (f" ({peers})" if peers else "")
        rows.append(["HTTPS backend, upstream keep-alive off: ≥ 90% of backend TLS handshakes resumed", reached,
                     verdict_for(res, None if m["tether"] is None else m["tether"] >= 90, key)])
    return rows


def dedup_rounds(problems: list) -> list:
    """"round N, X" lines that differ only in N, once, with their rounds."""
    seen, order = {}, []
    for p in problems:
        m = re.match(r"round (\d+), (.*)$", p)
        if not m:
            seen.setdefault(p, [])
            order.append(p)
            continue
        if m.group(2) not in seen:
            order.append(m.group(2))
        seen.setdefault(m.group(2), []).append(m.group(1))
    out = []
    for key in dict.fromkeys(order):
        rounds = seen[key]
        out.append(key if not rounds else f"round{'s' if len(rounds) > 1 else ''} {', '.join(rounds)}, {key}")
    return out


def backends_markdown(res: Results, meta: dict, heading: str = "###") -> str:
    """Issue 12's scenarios: backends over TLS and HTTP/2."""
    h = heading
    rounds = meta.get("rounds", "?")
    lines = []
    foreign = [r["foreign_cpu_pct"] for r in res.records if r["scenario"] in BACKEND_KEYS and "foreign_cpu_pct" in r]
    if foreign and statistics.median(foreign) > float(meta.get("max_foreign_pct", "10")):
        lines += [f"> **Noisy machine:** other processes took a median {statistics.median(foreign):.0f}% of the CPU "
                  "during these runs; compare the proxies with each other, not with figures from another run.", ""]
    lines += [f"Medians of {rounds} round{'' if rounds == '1' else 's'}, {meta.get('duration', '?')} s per run, "
             f"run {meta.get('date', '?')} at commit `{meta.get('commit', '?')}`. *Backend alone*: the load "
             "generator straight to the backend, no proxy (a ceiling, not a competitor).", ""]
    present = [(key, label) for key, label, _ in BACKEND_SCENARIOS if any(r["scenario"] == key for r in res.records)]
    header = ["Scenario", "Backend alone"] + [NAMES[p] for p in PROXIES] + ["Tether ÷ nginx", "Tether ÷ HAProxy"]
    lines += [f"{h} Throughput (requests/s, higher is better)", ""]
    lines += table(header, metric_rows(res, [(label, key, "rps", "rps") for key, label in present], direct=True))
    lines += ["", f"{h} p99 latency (ms, lower is better)", ""]
    lines += table(header, metric_rows(res, [(label, key, "p99_ms", "ms") for key, label in present], direct=True))
    items = []
    keys = {key for key, _ in present}
    if "grpc" in keys:
        items.append(("Backend connections created per 100k calls (gRPC; counted by the backend)", "grpc", "upstream_per_100k", "count"))
    if "httpsbackend" in keys:
        items.append(("Backend TLS connections created per 100k requests (keep-alive)", "httpsbackend", "upstream_per_100k", "count"))
    if "httpsbackend-nokeepalive" in keys:
        items.append(("Backend TLS handshakes that resumed a session, % (keep-alive off)", "httpsbackend-nokeepalive", "tls_resumed_pct", "pct"))
    short = {key: sh for key, _, sh in BACKEND_SCENARIOS}
    for key, _ in present:
        items.append((f"CPU time per request, µs ({short[key]})", key, "cpu_us_per_req", "us"))
    lines += ["", f"{h} Backend connections, TLS resumption, CPU", ""]
    lines += table(["Measure"] + [NAMES[p] for p in PROXIES] + ["Tether ÷ nginx", "Tether ÷ HAProxy"], metric_rows(res, items))
    lines += ["", f"{h} The issue's targets for Tether (issue 12)", ""]
    lines += table(["Target", "Reached", "Verdict"], backend_targets(res), 3)
    problems = dedup_rounds(res.failures(BACKEND_KEYS))
    if problems:
        lines += ["", f"{h} Errors seen", ""] + [f"- {p}" for p in problems]
    protos = []
    for p in PROXIES:
        seen = sorted({r["tls_protocol"] for r in res.records if r["proxy"] == p and "tls_protocol" in r
                       and r["scenario"] in ("httpsbackend", "httpsbackend-nokeepalive")})
        if seen:
            protos.append(f"{NAMES[p]} {'/'.join(seen)}")
    if protos:
        lines += ["", "TLS version of the backend handshakes (the origin offers 1.2 and 1.3): " + ", ".join(protos) + "."]
    if meta.get("tether_backend_counters"):
        lines += ["", "Tether's own `/status` counters at the end of the run, per instance (warm-up included): "
                  f"{meta['tether_backend_counters']}."]
    lines += ["", f"{h} How it was measured", ""]
    if "grpc" in keys:
        lines += ["- gRPC: the backend is `bench/tools/grpc-origin` (Grpc.AspNetCore 2.85.0 on Kestrel, HTTP/2 only "
                  "without TLS, server GC), a unary `tetherbench.Echo/Say` that returns the 32-byte message it got. "
                  "Load: `h2load -t1 -c16 -m10 -d body` (one gRPC-framed message, `content-type: application/grpc`, "
                  "`te: trailers`), h2c prior knowledge to each proxy. A call counts as answered when h2load saw its "
                  "HTTP 200 *and* the backend counted it (a proxy's own 200 with `grpc-status: 14` is not a success); "
                  "before the runs, each proxy passes one real Grpc.Net.Client call (`grpc-status: 0` in the trailers, "
                  "echo intact). Tether: listener `\"protocols\": \"http2\"`, cluster `\"protocol\": \"http2\"` "
                  "with an `http://` destination; nginx: `listen … http2`, `grpc_pass grpc://` to an upstream with "
                  "`keepalive 256` (one call per upstream connection: its idle cap has to cover the ~160 calls in flight); HAProxy: `bind … proto h2`, `server … proto h2`, `http-reuse safe`. Backend "
                  "connections are counted by the backend (accepted on its gRPC port)."]
    if keys & {"httpsbackend", "httpsbackend-nokeepalive"}:
        lines += ["- HTTPS backend: the origin nginx's TLS server (HTTP/1.1, a P-256 certificate for "
                  "`backend.tether.test` signed by a test CA made at run time, `ssl_session_cache shared`, session "
                  "tickets on) serves the 19-byte page; clients speak HTTP/1.1 to the proxies (`wrk -t1 -c64`), the "
                  "backend alone is `wrk` over TLS. Every proxy verifies the certificate against the test CA and the "
                  "name: Tether `tls.caFile` + `tls.serverName` and an `https://` destination; nginx `proxy_pass https://`, "
                  "`proxy_ssl_verify on`, `proxy_ssl_trusted_certificate`, `proxy_ssl_name` + `proxy_ssl_server_name on`, "
                  "`proxy_ssl_session_reuse on`, `proxy_ssl_protocols TLSv1.2 TLSv1.3` (nginx 1.22 leaves 1.3 out by default, on both sides); HAProxy `server … ssl verify required ca-file … sni str(…) verifyhost …`. "
                  "Keep-alive as in the other scenarios (64 idle; `proxy_http_version 1.1`, `http-reuse safe`); "
                  "keep-alive off: nginx without `keepalive`, HAProxy `http-reuse never` + `option http-server-close`, "
                  "Tether `pool.maxIdlePerDestination: 0`. Handshakes are counted in the origin's access log, one line "
                  "per new connection (`if=` its first request) with `$ssl_session_reused` (`r` resumed, `.` full)."]
    lines += [f"- Machine: {meta.get('machine', '?')}, shared by the load generator, the backend and the proxy; "
              f"each proxy with {meta.get('workers', '?')} workers as in the main scenarios. Versions: {meta.get('versions', '?')}."]
    foreign = [r["foreign_cpu_pct"] for r in res.records if r["scenario"] in BACKEND_KEYS and "foreign_cpu_pct" in r]
    if foreign:
        lines += [f"- Other processes on the machine took a median {statistics.median(foreign):.1f}% of the CPU during "
                  f"these runs (max {max(foreign):.1f}%)."]
    lines += ["", "<details><summary>Every round (requests/s)</summary>", ""]
    rows = []
    for key, label in present:
        for p in ["direct"] + PROXIES:
            v = res.values(key, p, "rps")
            if v:
                extra = ""
                pct = res.values(key, p, "tls_resumed_pct") if key == "httpsbackend-nokeepalive" else []
                if pct:
                    extra = " (resumed " + ", ".join(f"{x:.1f}%" for x in pct) + ")"
                rows.append([label, NAMES[p], ", ".join(f"{x:,.0f}" for x in v) + extra])
    lines += table(["Scenario", "Proxy", "Rounds"], rows, 2) + ["", "</details>"]
    return "\n".join(lines) + "\n"


def targets(res: Results) -> list:
    def m(s, p, f):
        return res.median(s, p, f)

    def verdict(ok, scenario: str = "") -> str:
        if ok is None:
            failed = res.tether_failed(scenario)
            return f"**not met**: {failed}" if failed else "–"
        return "met" if ok else "**not met**"

    def ge(a, b):
        return None if a is None or b is None else a >= b

    rows = []
    t, n, h = (m("small", p, "rps") for p in PROXIES)
    ok = None if None in (t, n, h) else (t >= n and t >= h)
    rows.append(["64 conns, 19 B: ≥ 1.0× nginx and HAProxy req/s", f"{ratio(t, n)} nginx, {ratio(t, h)} HAProxy", verdict(ok, "small")])
    tp, np_ = m("small", "tether", "p99_ms"), m("small", "nginx", "p99_ms")
    rows.append(["64 conns, 19 B: p99 ≤ nginx's", f"{fmt_num(tp, 'ms')} ms vs {fmt_num(np_, 'ms')} ms",
                 verdict(None if None in (tp, np_) else tp <= np_)])
    for key, label in (("16k", "16 KB body"), ("1m", "1 MB body"), ("post4k", "POST 4 KB"), ("h2tls", "HTTP/2 over TLS")):
        a, b = m(key, "tether", "rps"), m(key, "nginx", "rps")
        rows.append([f"{label}: ≥ 1.0× nginx req/s", ratio(a, b), verdict(ge(a, b), key)])
    kb = m("idle", "tether", "kb_per_conn")
    rows.append(["Idle client connection: ≤ 2 KB", f"{fmt_num(kb, 'kb')} KB", verdict(None if kb is None else kb <= 2, "idle")])
    per = m("small", "tether", "upstream_per_100k")
    ok = None if per is None else per <= 64
    reuse = None if per is None else 100 - per / 1000
    rows.append(["Steady load: upstream connections ≤ idle cap (64) per 100k, reuse ≥ 99.9%",
                 "–" if per is None else f"{per:.1f} per 100k, reuse {reuse:.3f}%",
                 verdict(ok) if ok or per is None else ("reuse met, count above cap" if reuse >= 99.9 else "**not met**")])
    return rows


def report_markdown(res: Results, meta: dict, chart_path: str) -> str:
    """latest.md's body: the main scenarios when they ran (or nothing ran), then issue 12's when they ran."""
    out = ""
    if meta.get("tether_engine", "kestrel") != "kestrel":
        out += f"Tether's HTTP/1.1 listeners on engine `{meta['tether_engine']}` (issue 15; the TLS listener's connections handed to Kestrel, which does TLS and HTTP/2).\n\n"
    if res.has(CLASSIC_KEYS) or not res.has(BACKEND_KEYS):
        out += markdown(res, meta, chart_path)
    elif meta.get("tether_status", "ok") != "ok":
        out += f"> **Tether was not measured in this run:** {meta['tether_status']}.\n\n"
    if res.has(BACKEND_KEYS):
        if out:
            out += "\n"
        out += "## Backends over TLS and HTTP/2 (issue 12)\n\n" + backends_markdown(res, meta)
        if not res.has(CLASSIC_KEYS):
            out += f"\n![Tether vs nginx vs HAProxy]({chart_path})\n"
    return out


def markdown(res: Results, meta: dict, chart_path: str) -> str:
    rounds = meta.get("rounds", "?")
    lines = []
    tether_status = meta.get("tether_status", "ok")
    if tether_status != "ok":
        lines += [f"> **Tether was not measured in this run:** {tether_status}.", ""]
    foreign = [r["foreign_cpu_pct"] for r in res.records if "foreign_cpu_pct" in r]
    noisy = foreign and statistics.median(foreign) > float(meta.get("max_foreign_pct", "10"))
    if noisy:
        lines += [f"> **Noisy machine:** other processes took a median {statistics.median(foreign):.0f}% of the CPU "
                  "during the runs (see *How it was measured*); compare the proxies with each other, not with "
                  "figures from another run.", ""]
    lines += [f"Medians of {rounds} round{'' if rounds == '1' else 's'}; in each round every scenario runs against each proxy in turn "
              f"(order rotated per round), {meta.get('duration', '?')} s per run. "
              f"Run {meta.get('date', '?')} at commit `{meta.get('commit', '?')}`, took {meta.get('wall', '?')}.", ""]
    lines += [f"![Tether vs nginx vs HAProxy]({chart_path})", ""]
    lines += ["### Throughput (requests/s, higher is better)", ""]
    lines += table(["Scenario"] + [NAMES[p] for p in PROXIES] + ["Tether ÷ nginx", "Tether ÷ HAProxy"],
                   metric_rows(res, [(label, key, "rps", "rps") for key, label, _ in SCENARIOS]))
    lines += ["", "### p99 latency (ms, lower is better)", ""]
    lines += table(["Scenario"] + [NAMES[p] for p in PROXIES] + ["Tether ÷ nginx", "Tether ÷ HAProxy"],
                   metric_rows(res, [(label, key, "p99_ms", "ms") for key, label, _ in SCENARIOS]))
    idle_n = meta.get("idle_conns", "5000")
    lines += ["", "### Memory, upstream connections, CPU (lower is better)", ""]
    lines += table(["Measure"] + [NAMES[p] for p in PROXIES] + ["Tether ÷ nginx", "Tether ÷ HAProxy"],
                   metric_rows(res, [
                       (f"User-space memory per idle client connection (KB, {int(idle_n):,} held)", "idle", "kb_per_conn", "kb"),
                       ("Upstream connections created per 100k requests (64 conns, 19 B)", "small", "upstream_per_100k", "count"),
                       ("Upstream connections created per 100k requests (HTTP/2, ~160 in flight)", "h2tls", "upstream_per_100k", "count"),
                       ("Upstream connections created per 100k requests (keep-alive off)", "noka", "upstream_per_100k", "count"),
                       ("CPU time per request, µs (64 conns, 19 B)", "small", "cpu_us_per_req", "us"),
                       ("CPU time per request, µs (HTTP/2 over TLS)", "h2tls", "cpu_us_per_req", "us"),
                       ("CPU time per request, µs (1 MB body)", "1m", "cpu_us_per_req", "us"),
                   ]))
    lines += ["", "### The issue's targets for Tether", ""]
    lines += table(["Target", "Reached", "Verdict"], targets(res), 3)
    problems = res.failures()
    if problems:
        lines += ["", "### Errors seen", ""] + [f"- {p}" for p in problems]
    if meta.get("tether_counters"):
        lines += ["", f"Tether's own `/status` pool counters at the end of the run (the instance that serves every "
                  f"scenario but keep-alive off, warm-up included): "
                  f"{meta['tether_counters']}."]
    lines += ["", "### How it was measured", ""]
    lines += [f"- Machine: {meta.get('machine', '?')}; everything (load generator, origin, proxies) shares these cores, "
              "nothing is pinned.",
              f"- Each proxy runs {meta.get('workers', '?')} workers: nginx `worker_processes {meta.get('workers', '?')}`, "
              f"HAProxy `nbthread {meta.get('workers', '?')}`, Tether on the .NET thread pool (all cores). "
              "The origin is one nginx worker; wrk and h2load use one thread.",
              f"- Versions: {meta.get('versions', '?')}.",
              "- Upstream pools: nginx `keepalive 64` (64 idle per worker), HAProxy `http-reuse safe` (its idle pool is not "
              "capped by default), Tether `pool.maxIdlePerDestination: 64` with its default `pool.excessIdleTimeout: 2s`. "
              "With 160 requests in flight (HTTP/2 scenario) nginx closes idle connections beyond its cap at once and "
              "opens new ones for the next burst; Tether keeps those above the cap for 2 s and reuses them. "
              "keep-alive off: nginx without `keepalive`, HAProxy `http-reuse never` + `option http-server-close`, "
              "Tether `maxIdlePerDestination: 0`.",
              "- No proxy caps requests per connection, on either side: nginx `keepalive_requests 10000000` (client "
              "side and upstream), Tether `downstream.maxRequestsPerConnection: 0` and `pool.maxRequestsPerConnection: 0`; "
              "HAProxy has no cap by default. h2load does not reconnect after a GOAWAY, and recycling every 1,000 "
              "requests (nginx's and Tether's default) would put a floor of 100 per 100k under the upstream figure.",
              "- Upstream connections are counted at the origin (`stub_status` accepts), the same way for all three. "
              "CPU time is utime + stime of the proxy's processes (all threads) from `/proc/PID/stat` across the run, "
              "divided by the 2xx answers. Idle memory: a fresh instance of the proxy, warmed by 1 s of load, then its RSS "
              "while holding the connections minus its RSS before opening them, divided by the connections that got "
              "their answer (memory the proxy allocates up front, such as nginx's `worker_connections` tables, is not "
              "in the difference).",
              "- Raw per-round records: `bench/results/latest.json`."]
    if foreign:
        retries = sum(r.get("attempts", 1) - 1 for r in res.records)
        lines += [f"- Other processes on the machine (not the origin, the proxies or the load generator) took a median "
                  f"{statistics.median(foreign):.1f}% of the CPU during the runs (max {max(foreign):.1f}%; load average "
                  f"{meta.get('load_before', '?')} before, {meta.get('load_after', '?')} after). A run above "
                  f"{meta.get('max_foreign_pct', '?')}% was measured again ({retries} re-runs); the harness waited "
                  f"{meta.get('quiet_waited', '0')} s in all for a quiet machine."]
    if meta.get("restarts"):
        lines += [f"- Servers ended from outside the harness and started again: {meta['restarts']}."]
    lines += ["", "<details><summary>Every round (requests/s)</summary>", ""]
    rows = []
    for key, label, _ in SCENARIOS:
        for p in PROXIES:
            v = res.values(key, p, "rps")
            if v:
                rows.append([label, NAMES[p], ", ".join(f"{x:,.0f}" for x in v)])
    for p in PROXIES:
        v = res.values("idle", p, "kb_per_conn")
        if v:
            rows.append(["idle KB per connection", NAMES[p], ", ".join(f"{x:.2f}" for x in v)])
    lines += table(["Scenario", "Proxy", "Rounds"], rows, 2) + ["", "</details>"]
    return "\n".join(lines) + "\n"


def chart(res: Results, meta: dict) -> str:
    def missing(scenario: str) -> str:
        """Why Tether has no bar: it ran and every run failed, or it was not measured."""
        failed = res.tether_failed(scenario)
        if not failed:
            return "not measured"
        return "failed: " + ("no request completed" if failed.startswith("no request completed") else failed[:40])

    panels = []
    if res.has(CLASSIC_KEYS) or not res.has(BACKEND_KEYS):
        for key, _, short in SCENARIOS:
            panels.append(svgchart.Panel(f"{short}: requests/s", "higher is better",
                                         {p: res.median(key, p, "rps") for p in PROXIES}, "rps", missing(key)))
        panels.append(svgchart.Panel("64 conns, 19 B: p99 latency (ms)", "lower is better",
                                     {p: res.median("small", p, "p99_ms") for p in PROXIES}, "ms"))
        panels.append(svgchart.Panel("HTTP/2 + TLS: p99 latency (ms)", "lower is better",
                                     {p: res.median("h2tls", p, "p99_ms") for p in PROXIES}, "ms"))
        panels.append(svgchart.Panel("Memory per idle connection (KB)", "lower is better",
                                     {p: res.median("idle", p, "kb_per_conn") for p in PROXIES}, "kb"))
        panels.append(svgchart.Panel("CPU per request (µs), 19 B", "lower is better",
                                     {p: res.median("small", p, "cpu_us_per_req") for p in PROXIES}, "us"))
        panels.append(svgchart.Panel("Upstream conns per 100k req., 19 B", "lower is better",
                                     {p: res.median("small", p, "upstream_per_100k") for p in PROXIES}, "count"))
    for key, _, short in BACKEND_SCENARIOS:
        if any(r["scenario"] == key for r in res.records):
            panels.append(svgchart.Panel(f"{short}: requests/s", "higher is better",
                                         {p: res.median(key, p, "rps") for p in PROXIES}, "rps", missing(key)))
    if res.values("httpsbackend-nokeepalive", "nginx", "tls_resumed_pct") or res.tether_failed("httpsbackend-nokeepalive"):
        panels.append(svgchart.Panel("Backend TLS handshakes resumed (%)", "higher is better",
                                     {p: res.median("httpsbackend-nokeepalive", p, "tls_resumed_pct") for p in PROXIES},
                                     "pct", missing("httpsbackend-nokeepalive")))
    rounds = meta.get("rounds", "?")
    subtitle = (f"Medians of {rounds} round{'' if rounds == '1' else 's'}, {meta.get('duration', '?')} s each, "
                f"{meta.get('machine', '')}, {meta.get('date', '')}, commit {meta.get('commit', '?')}")
    foreign = [r["foreign_cpu_pct"] for r in res.records if "foreign_cpu_pct" in r]
    warning = ""
    if foreign and statistics.median(foreign) > float(meta.get("max_foreign_pct", "10")):
        warning = f"Noisy machine: other processes took a median {statistics.median(foreign):.0f}% of the CPU"
    return svgchart.render("Tether vs nginx vs HAProxy, same machine, same run", subtitle, panels,
                           [(p, NAMES[p]) for p in PROXIES], warning)


def write_report(args) -> None:
    records = [json.loads(line) for line in open(args.raw)] if os.path.exists(args.raw) else []
    meta = read_meta(args.meta)
    res = Results(records)
    md_dir = os.path.dirname(os.path.abspath(args.md))
    svg_rel = os.path.relpath(os.path.abspath(args.svg), md_dir)
    with open(args.md, "w") as f:
        f.write("# Benchmark results: Tether, nginx, HAProxy\n\n")
        f.write("Produced by `bench/run.sh`; see docs/benchmarks.md for how to reproduce.\n\n")
        f.write(report_markdown(res, meta, svg_rel))
    with open(args.svg, "w") as f:
        f.write(chart(res, meta))
    with open(args.json, "w") as f:
        json.dump({"meta": meta, "records": records}, f, indent=1)
        f.write("\n")
    if args.docs:
        # Each section of the page is rewritten only by a run that measured it: a run of issue 12's
        # scenarios alone leaves the main results as they were, and a default run leaves issue 12's.
        svg_docs = os.path.relpath(os.path.abspath(args.svg), os.path.dirname(os.path.abspath(args.docs)))
        if res.has(CLASSIC_KEYS):
            update_docs(args.docs, markdown(res, meta, svg_docs), DOCS_BEGIN, DOCS_END)
        if res.has(BACKEND_KEYS):
            update_docs(args.docs, backends_markdown(res, meta), DOCS_BACKENDS_BEGIN, DOCS_BACKENDS_END)


def update_docs(path: str, body: str, begin: str = DOCS_BEGIN, end: str = DOCS_END) -> None:
    text = open(path).read()
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{path} has no {begin} ... {end} section to fill")
    text = pattern.sub(lambda _: begin + "\n" + body.replace("### ", "#### ") + end, text)
    with open(path, "w") as f:
        f.write(text)
