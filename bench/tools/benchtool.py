"""Turns raw tool output into result records, and result records into the report.

    benchtool.py wrk     --out RAW --round R --scenario S --proxy P --stdout FILE --cpu-ticks T --accepts N
    benchtool.py h2load  --out RAW ... --stdout FILE --h2-log FILE [--protocol h2c] [--backend-calls N] ...
    benchtool.py wrk|h2load ... [--tls-full N --tls-resumed N]   backend TLS handshakes seen by the origin
    benchtool.py skip    --out RAW --round R --scenario S --proxy P --reason TEXT
    benchtool.py idle    --out RAW --round R --proxy P --ready-file F --rss-before KB --rss-after KB
    benchtool.py report  --raw RAW --meta META --md OUT.md --svg OUT.svg --json OUT.json [--docs DOCS.md]
    benchtool.py check   --raw RAW --md OUT.md --proxies "..." --scenarios "..."

A record is one JSON object per line in RAW: one proxy, one scenario, one round.
"""
import argparse
import json
import os
import re
import sys

import report as rep

CLK_TCK = os.sysconf("SC_CLK_TCK")


def load_cost(args, requests: int) -> dict:
    """CPU time and upstream connections of the proxy across one scenario, per request."""
    cpu_s = args.cpu_ticks / CLK_TCK
    out = {"cpu_s": round(cpu_s, 3), "upstream_new": args.accepts,
           "foreign_cpu_pct": args.foreign_pct, "attempts": args.attempts}
    if requests > 0:
        out["cpu_us_per_req"] = round(cpu_s * 1e6 / requests, 2)
        out["upstream_per_100k"] = round(args.accepts * 1e5 / requests, 2)
    return out


def tls_reuse(args, rec: dict) -> None:
    """Backend TLS handshakes the origin logged during the run ($ssl_session_reused: full or resumed)."""
    if args.tls_full < 0 or args.tls_resumed < 0:
        return
    total = args.tls_full + args.tls_resumed
    rec["tls_handshakes"] = total
    rec["tls_resumed"] = args.tls_resumed
    if args.tls_protocol and args.tls_protocol != "-":
        rec["tls_protocol"] = args.tls_protocol
    if total:
        rec["tls_resumed_pct"] = round(100 * args.tls_resumed / total, 2)


def record_wrk(args) -> dict:
    text = open(args.stdout, encoding="utf-8", errors="replace").read()
    m = re.search(r"^BENCH_JSON (\{.*\})$", text, re.M)
    if not m:
        return {"failed": "wrk printed no result: " + text.strip()[-300:]}
    w = json.loads(m.group(1))
    seconds = w["duration_us"] / 1e6
    socket_errors = w["err_connect"] + w["err_read"] + w["err_write"] + w["err_timeout"]
    ok = max(w["requests"] - w["err_status"], 0)
    rec = {
        "requests": w["requests"], "ok": ok, "non_2xx": w["err_status"], "socket_errors": socket_errors,
        "seconds": round(seconds, 3), "rps": round(ok / seconds, 1) if seconds else 0.0,
        "p50_ms": round(w["p50_us"] / 1000, 3), "p99_ms": round(w["p99_us"] / 1000, 3),
        "mean_ms": round(w["mean_us"] / 1000, 3),
    }
    if ok == 0:
        rec["failed"] = (f"no request completed in {seconds:.1f} s ({w['bytes']:,} bytes read, "
                         f"{w['err_status']} non-2xx, {socket_errors} socket errors)")
    rec.update(load_cost(args, ok))
    tls_reuse(args, rec)
    return rec


def record_h2load(args) -> dict:
    text = open(args.stdout, encoding="utf-8", errors="replace").read()
    fin = re.search(r"finished in ([\d.]+)s, ([\d.]+) req/s", text)
    req = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", text)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    proto = re.search(r"Application protocol: (\S+)", text)
    if not (fin and req and codes):
        return {"failed": "h2load printed no result: " + text.strip()[-300:]}
    seconds = float(fin.group(1))
    ok = int(codes.group(1))
    durations = []
    if args.h2_log and os.path.exists(args.h2_log):
        with open(args.h2_log) as f:
            for line in f:
                parts = line.split("\t")
                if len(parts) >= 3:
                    durations.append(int(parts[2]))
    durations.sort()

    def pct(p: float) -> float:
        if not durations:
            return 0.0
        return round(durations[min(len(durations) - 1, int(len(durations) * p))] / 1000, 3)

    rec = {
        "requests": int(req.group(3)), "ok": ok, "non_2xx": max(int(req.group(3)) - ok, 0),
        "socket_errors": int(req.group(6)) + int(req.group(7)),
        "seconds": seconds, "rps": round(ok / seconds, 1) if seconds else 0.0,
        "p50_ms": pct(0.50), "p99_ms": pct(0.99),
        "protocol": proto.group(1) if proto else "none",
    }
    if args.backend_calls >= 0:
        # gRPC: an HTTP 200 is not a success by itself (grpc-status travels in the trailers, and a proxy may
        # answer a failed call with 200 + grpc-status 14). Count as answered only calls the backend served;
        # it may have served a few more than h2load saw finish (those in flight when the run ended).
        rec["backend_calls"] = args.backend_calls
        if args.backend_calls < ok:
            rec["note"] = (f"{ok - args.backend_calls:,} of {ok:,} HTTP 200 answers never reached the backend "
                           "(not counted)")
            ok = args.backend_calls
            rec["ok"] = ok
            rec["rps"] = round(ok / seconds, 1) if seconds else 0.0
    if rec["protocol"] != args.protocol:
        rec["failed"] = f"negotiated {rec['protocol']}, not {args.protocol}"
    elif ok == 0:
        rec["failed"] = (f"no call reached the backend in {seconds:.1f} s ({int(codes.group(1)):,} HTTP 2xx, "
                         f"{int(codes.group(4)) + int(codes.group(3)):,} 4xx/5xx)" if args.backend_calls >= 0
                         else f"no request completed in {seconds:.1f} s")
    rec.update(load_cost(args, ok))
    tls_reuse(args, rec)
    return rec


def record_idle(args) -> dict:
    if not os.path.exists(args.ready_file):
        return {"failed": "the idle client reported nothing"}
    r = json.load(open(args.ready_file))
    rec = {"conns_ok": r["ok"], "conns_failed": r["failed"], "errors": r["errors"],
           "rss_before_kb": args.rss_before, "rss_after_kb": args.rss_after}
    if r["ok"] > 0:
        rec["kb_per_conn"] = round((args.rss_after - args.rss_before) / r["ok"], 3)
    if r["failed"]:
        rec["note"] = f"{r['failed']} of {r['ok'] + r['failed']} connections failed: {r['errors']}"
    return rec


def append(args, rec: dict) -> None:
    full = {"round": args.round, "scenario": args.scenario, "proxy": args.proxy}
    full.update(rec)
    with open(args.out, "a") as f:
        f.write(json.dumps(full) + "\n")
    brief = {k: full[k] for k in ("rps", "p99_ms", "cpu_us_per_req", "upstream_per_100k", "kb_per_conn",
                                  "tls_resumed_pct", "foreign_cpu_pct", "failed") if k in full}
    print(f"  {args.proxy:8} {args.scenario:8} " + " ".join(f"{k}={v}" for k, v in brief.items()), file=sys.stderr)


def check(args) -> int:
    """Smoke assertions: every proxy answered in every scenario, and the report was written."""
    recs = [json.loads(line) for line in open(args.raw)] if os.path.exists(args.raw) else []
    problems = []
    for proxy in args.proxies.split():
        for scenario in args.scenarios.split():
            mine = [r for r in recs if r["proxy"] == proxy and r["scenario"] == scenario]
            answered = [r for r in mine if r.get("ok", 0) > 0 or r.get("conns_ok", 0) > 0]
            if not answered:
                why = "; ".join(r.get("failed", "") for r in mine) or "no record"
                problems.append(f"{proxy} did not answer in '{scenario}' ({why})")
    if not (os.path.exists(args.md) and os.path.getsize(args.md) > 0):
        problems.append(f"{args.md} was not written")
    for p in problems:
        print("smoke: FAIL: " + p, file=sys.stderr)
    if not problems:
        print(f"smoke: ok: {args.proxies} answered in every scenario; {args.md} written", file=sys.stderr)
    return 1 if problems else 0


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("wrk", "h2load", "idle", "skip"):
        p = sub.add_parser(name)
        p.add_argument("--out", required=True)
        p.add_argument("--round", type=int, required=True)
        p.add_argument("--scenario", default="idle")
        p.add_argument("--proxy", required=True)
        p.add_argument("--stdout")
        p.add_argument("--h2-log")
        p.add_argument("--cpu-ticks", type=int, default=0)
        p.add_argument("--accepts", type=int, default=0)
        p.add_argument("--foreign-pct", type=float, default=0.0)
        p.add_argument("--attempts", type=int, default=1)
        p.add_argument("--ready-file")
        p.add_argument("--rss-before", type=int, default=0)
        p.add_argument("--rss-after", type=int, default=0)
        p.add_argument("--protocol", default="h2")
        p.add_argument("--backend-calls", type=int, default=-1)
        p.add_argument("--tls-full", type=int, default=-1)
        p.add_argument("--tls-resumed", type=int, default=-1)
        p.add_argument("--tls-protocol", default="")
        p.add_argument("--reason", default="")
    p = sub.add_parser("report")
    p.add_argument("--raw", required=True)
    p.add_argument("--meta", required=True)
    p.add_argument("--md", required=True)
    p.add_argument("--svg", required=True)
    p.add_argument("--json", required=True)
    p.add_argument("--docs")
    p = sub.add_parser("check")
    p.add_argument("--raw", required=True)
    p.add_argument("--md", required=True)
    p.add_argument("--proxies", required=True)
    p.add_argument("--scenarios", required=True)
    args = ap.parse_args()

    if args.cmd == "wrk":
        append(args, record_wrk(args))
    elif args.cmd == "h2load":
        append(args, record_h2load(args))
    elif args.cmd == "idle":
        append(args, record_idle(args))
    elif args.cmd == "skip":
        append(args, {"failed": args.reason or "not run"})
    elif args.cmd == "report":
        rep.write_report(args)
    elif args.cmd == "check":
        return check(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
