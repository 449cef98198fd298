"""Medians, ratios and the issue's targets, written as Markdown (bench/results/latest.md), JSON and an
SVG chart; optionally also into docs/benchmarks.md between its results markers."""
import json
import os
import re
import statistics

import svgchart

PROXIES = ["tether", "nginx", "haproxy"]
NAMES = {"tether": "Tether", "nginx": "nginx", "haproxy": "HAProxy"}

# key, label, short label for the chart
SCENARIOS = [
    ("small", "HTTP/1.1 keep-alive, 64 conns, 19 B body", "64 conns, 19 B"),
    ("16k", "HTTP/1.1 keep-alive, 64 conns, 16 KB body", "64 conns, 16 KB"),
    ("1m", "HTTP/1.1 keep-alive, 64 conns, 1 MB body", "64 conns, 1 MB"),
    ("post4k", "POST 4 KB body, 64 conns", "POST 4 KB"),
    ("latency", "1 connection (latency)", "1 connection"),
    ("h2tls", "HTTP/2 over TLS, h2load -c16 -m10", "HTTP/2 + TLS"),
    ("noka", "Upstream keep-alive off, 64 conns, 19 B", "upstream keep-alive off"),
]
DOCS_BEGIN = "<!-- bench:results:begin -->"
DOCS_END = "<!-- bench:results:end -->"


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

    def failures(self) -> list:
        out = []
        for r in self.records:
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


def metric_rows(res: Results, items: list) -> list:
    """items: (label, scenario, field, kind)."""
    rows = []
    for label, scenario, field, kind in items:
        m = {p: res.median(scenario, p, field) for p in PROXIES}
        rows.append([label] + [fmt_num(m[p], kind) for p in PROXIES]
                    + [ratio(m["tether"], m["nginx"]), ratio(m["tether"], m["haproxy"])])
    return rows


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
        f.write(markdown(res, meta, svg_rel))
    with open(args.svg, "w") as f:
        f.write(chart(res, meta))
    with open(args.json, "w") as f:
        json.dump({"meta": meta, "records": records}, f, indent=1)
        f.write("\n")
    if args.docs:
        update_docs(args.docs, markdown(res, meta, os.path.relpath(os.path.abspath(args.svg), os.path.dirname(os.path.abspath(args.docs)))))


def update_docs(path: str, body: str) -> None:
    text = open(path).read()
    pattern = re.compile(re.escape(DOCS_BEGIN) + ".*?" + re.escape(DOCS_END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{path} has no {DOCS_BEGIN} ... {DOCS_END} section to fill")
    text = pattern.sub(lambda _: DOCS_BEGIN + "\n" + body.replace("### ", "#### ") + DOCS_END, text)
    with open(path, "w") as f:
        f.write(text)
