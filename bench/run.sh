#!/usr/bin/env bash
# Tether benchmark: one origin (nginx) and, in front of it, nginx, HAProxy and Tether, measured
# side by side in one run. Writes bench/results/latest.md, latest.json and chart.svg (a run of only
# issue 12's opt-in scenarios: backends.md, backends.json, backends.svg, leaving latest.* alone), and the
# results section of docs/benchmarks.md. Stops every process it started.
#
#   bench/run.sh            full run (3 rounds x 4 s per scenario and proxy, about 8 minutes)
#   bench/run.sh --smoke    same code path in seconds; asserts every proxy answered (CI)
#
# Options (or the environment variables in brackets):
#   --rounds N        [BENCH_ROUNDS=3]        rounds; the report shows medians
#   --duration S      [BENCH_DURATION=4]      seconds per scenario, proxy and round
#   --warmup S        [BENCH_WARMUP=1]        unrecorded seconds per scenario and proxy before round 1
#   --scenarios LIST  [BENCH_SCENARIOS]       subset of: small xform 16k 1m post4k latency h2tls noka idle (the
#                                             default), and, opt-in, issue 12's backends over TLS and HTTP/2:
#                                             grpc httpsbackend httpsbackend-nokeepalive; "all" = every one
#   --proxies LIST    [BENCH_PROXIES]         subset of: tether nginx haproxy
#   --idle-conns N    [BENCH_IDLE_CONNS=5000] idle client connections for the memory measure
#   --workers N       [BENCH_WORKERS=nproc]   nginx worker_processes / HAProxy nbthread
#   --no-build        [BENCH_BUILD=0]         use the Tether already in bench/.build/tether
#   --tether-source W [BENCH_TETHER_SOURCE]   worktree (default): build src/ as it is on disk;
#                                             head: build the last commit (git archive), ignoring local edits
#   --tether-access-log F [BENCH_TETHER_ACCESS_LOG=off] Tether's accessLog.format: off, json or combined,
#                                             to a file in the run folder (the cost of the access log)
#   --tether-compression A [BENCH_TETHER_COMPRESSION=off] off, gzip or br: Tether's route compresses every
#                                             response (compression.minSize 0, so the small scenario's 19 B too)
#                                             and wrk sends Accept-Encoding: A to every proxy (nginx and HAProxy
#                                             pass it on and compress nothing): the cost of compression, in
#                                             paired runs with and without (docs/benchmarks.md)
#   --tether-engine E [BENCH_TETHER_ENGINE=kestrel] listeners[].engine of Tether's listeners: kestrel or
#                                             tether (issue 15; on the TLS listener the engine accepts and
#                                             hands every connection to Kestrel, which does TLS and HTTP/2)
#   --port-base N     [BENCH_PORT_BASE=28000] ports used: base+80 .. base+139 on 127.0.0.1
#   --out DIR         [BENCH_OUT]             where the report goes (default bench/results)
#   --serve S                                 start everything, print the addresses, wait S seconds, stop
# Shared machines: BENCH_MAX_FOREIGN_PCT=10 (re-run a run in which other processes took more CPU),
# BENCH_RETRY_BUDGET=12 (re-runs in all), BENCH_QUIET_BUDGET=60 (seconds spent waiting for a quiet
# machine), BENCH_DEADLINE=570 (seconds; waits and re-runs never push the whole run past it).
# BENCH_SMOKE_ALLOW_NO_TETHER=1: a smoke run passes without Tether when it does not build or forward.
set -Eeuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/lib/common.sh
source "$BENCH_DIR/lib/common.sh"
# shellcheck source=bench/lib/servers.sh
source "$BENCH_DIR/lib/servers.sh"
# shellcheck source=bench/lib/scenarios.sh
source "$BENCH_DIR/lib/scenarios.sh"
# shellcheck source=bench/lib/backends.sh
source "$BENCH_DIR/lib/backends.sh"

ALL_SCENARIOS="small xform 16k 1m post4k latency h2tls noka idle"
SMOKE=0
ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-4}
WARMUP=${BENCH_WARMUP:-1}
SCENARIOS=${BENCH_SCENARIOS:-$ALL_SCENARIOS}
PROXIES=${BENCH_PROXIES:-"tether nginx haproxy"}
IDLE_CONNS=${BENCH_IDLE_CONNS:-5000}
PROXY_WORKERS=${BENCH_WORKERS:-$(nproc)}
BUILD=${BENCH_BUILD:-1}
TETHER_SOURCE=${BENCH_TETHER_SOURCE:-worktree}
TETHER_ACCESS_LOG=${BENCH_TETHER_ACCESS_LOG:-off}
TETHER_COMPRESSION=${BENCH_TETHER_COMPRESSION:-off}
TETHER_ENGINE=${BENCH_TETHER_ENGINE:-kestrel}
PORT_BASE=${BENCH_PORT_BASE:-28000}
OUT_DIR=${BENCH_OUT:-}
SERVE=0
IDLE_SETTLE=1
# Other work on this machine (builds, tests) distorts a run; one that saw more than this share of the
# CPU taken by foreign processes is measured again, at most MAX_RETRIES times, RETRY_BUDGET in all.
MAX_FOREIGN_PCT=${BENCH_MAX_FOREIGN_PCT:-10}
MAX_RETRIES=2
RETRY_BUDGET=${BENCH_RETRY_BUDGET:-12}
# Before each run, wait for the machine to be quiet, up to this many seconds for the whole benchmark.
QUIET_BUDGET=${BENCH_QUIET_BUDGET:-60}
QUIET_WAITED=0
# Waits and re-runs never push the whole benchmark (install and build included) past this.
DEADLINE=${BENCH_DEADLINE:-570}
# nginx writes a proxied body that outgrows proxy_buffers to a temp file unless this is 0; HAProxy and
# Tether stream, so nginx streams too (it is also nginx's faster setting for the 1 MB body here).
NGINX_MAX_TEMP_FILE=0

while [ $# -gt 0 ]; do
    case $1 in
        --smoke) SMOKE=1 ;;
        --rounds) ROUNDS=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --warmup) WARMUP=$2; shift ;;
        --scenarios) SCENARIOS=$2; shift ;;
        --proxies) PROXIES=$2; shift ;;
        --idle-conns) IDLE_CONNS=$2; shift ;;
        --workers) PROXY_WORKERS=$2; shift ;;
        --no-build) BUILD=0 ;;
        --tether-source) TETHER_SOURCE=$2; shift ;;
        --tether-access-log) TETHER_ACCESS_LOG=$2; shift ;;
        --tether-compression) TETHER_COMPRESSION=$2; shift ;;
        --tether-engine) TETHER_ENGINE=$2; shift ;;
        --port-base) PORT_BASE=$2; shift ;;
        --out) OUT_DIR=$2; shift ;;
        --serve) SERVE=$2; shift ;;
        -h | --help) sed -n '2,/^set -Eeuo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done

if [ "$SMOKE" = 1 ]; then
    # Seconds, not minutes: every scenario once, briefly, with fewer idle connections.
    ROUNDS=1 DURATION=1 WARMUP=0 IDLE_CONNS=${BENCH_IDLE_CONNS:-200} IDLE_SETTLE=0.2 RETRY_BUDGET=0 QUIET_BUDGET=0
    OUT_DIR=${OUT_DIR:-$BENCH_DIR/results/tmp/smoke}
fi
OUT_DIR=${OUT_DIR:-$BENCH_DIR/results}
for n in "$ROUNDS" "$DURATION" "$WARMUP" "$IDLE_CONNS" "$PROXY_WORKERS" "$PORT_BASE" "$SERVE" "$MAX_FOREIGN_PCT" "$RETRY_BUDGET" "$QUIET_BUDGET" "$DEADLINE"; do
    [[ $n =~ ^[0-9]+$ ]] || die "'$n' is not a whole number"
done
[ "$DURATION" -ge 1 ] || die "--duration must be at least 1 second"
[[ $TETHER_SOURCE =~ ^(worktree|head)$ ]] || die "--tether-source is worktree or head, not '$TETHER_SOURCE'"
[[ $TETHER_ACCESS_LOG =~ ^(off|json|combined)$ ]] || die "--tether-access-log is off, json or combined, not '$TETHER_ACCESS_LOG'"
[[ $TETHER_COMPRESSION =~ ^(off|gzip|br)$ ]] || die "--tether-compression is off, gzip or br, not '$TETHER_COMPRESSION'"

RUN_DIR="$BENCH_DIR/results/tmp/run"
[ "$TETHER_COMPRESSION" = off ] || log "Tether compresses every response with $TETHER_COMPRESSION (minSize 0); wrk sends Accept-Encoding: $TETHER_COMPRESSION"
[[ $TETHER_ENGINE =~ ^(kestrel|tether)$ ]] || die "--tether-engine is kestrel or tether, not '$TETHER_ENGINE'"
[ "$TETHER_ENGINE" = kestrel ] || log "Tether's HTTP/1.1 listeners run on engine \"$TETHER_ENGINE\""
[ "$TETHER_ACCESS_LOG" = off ] || log "Tether logs every request (accessLog.format $TETHER_ACCESS_LOG) to $RUN_DIR/<instance>-access.log"
RAW="$RUN_DIR/raw.jsonl"
# Servers outlive nothing: even if this script is killed, `timeout` stops them after this long.
SERVER_MAX_SECONDS=$((600 + ROUNDS * 30 * DURATION + 30 * WARMUP + SERVE))

declare -a LOAD_SCENARIOS=()
RUN_IDLE=0
[ "$SCENARIOS" = all ] && SCENARIOS="$ALL_SCENARIOS $BACKEND_SCENARIOS"
for s in $SCENARIOS; do
    [[ " $ALL_SCENARIOS $BACKEND_SCENARIOS " == *" $s "* ]] ||
        die "unknown scenario '$s' (known: $ALL_SCENARIOS $BACKEND_SCENARIOS, or all)"
    if [ "$s" = idle ]; then RUN_IDLE=1; else LOAD_SCENARIOS+=("$s"); fi
done
backends_selected "${LOAD_SCENARIOS[@]}"
# A run of issue 12's scenarios alone does not replace the main results (latest.*).
REPORT_MD=latest.md REPORT_SVG=chart.svg REPORT_JSON=latest.json
only_backends=1
for s in $SCENARIOS; do is_backend_scenario "$s" || only_backends=0; done
if [ "$only_backends" = 1 ]; then REPORT_MD=backends.md REPORT_SVG=backends.svg REPORT_JSON=backends.json; fi
declare -a ACTIVE_PROXIES=()
TETHER_STATUS="not selected (--proxies)"
TETHER_COMMIT=""

on_exit() {
    local rc=$?
    trap - EXIT INT TERM ERR
    set +e
    [ -n "${CLIENT_PID:-}" ] && kill -TERM "$CLIENT_PID" 2>/dev/null
    stop_all_servers
    exit "$rc"
}
trap 'log "failed: line $LINENO: $BASH_COMMAND"' ERR
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

main() {
    local started=$SECONDS
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
    install_missing
    raise_fd_limit
    rm -rf "$RUN_DIR"
    mkdir -p "$RUN_DIR/out" "$OUT_DIR"
    assign_ports
    assign_backend_ports
    make_fixtures
    make_backend_fixtures

    if [[ " $PROXIES " == *" tether "* ]]; then
        TETHER_STATUS=ok
        if [ "$BUILD" = 1 ]; then build_tether || true; fi
        TETHER_EXE="$BENCH_DIR/.build/tether/tether"
        if [ "$TETHER_STATUS" = ok ] && [ ! -x "$TETHER_EXE" ]; then
            TETHER_STATUS="no build at bench/.build/tether (run without --no-build)"
        fi
    fi

    start_origin
    start_backends
    local p why
    for p in nginx haproxy tether; do
        [[ " $PROXIES " == *" $p "* ]] || continue
        if [ "$p" = tether ] && [ "$TETHER_STATUS" != ok ]; then
            log "Tether left out: $TETHER_STATUS"
            continue
        fi
        start_instance "$p" main
        start_instance "$p" nka
        if why=$(proxy_forwards "$p"); then
            ACTIVE_PROXIES+=("$p")
            log "$p forwards to the origin"
            start_backend_instances "$p"
        elif [ "$p" = tether ]; then
            TETHER_STATUS="it does not forward yet: $why"
            log "Tether left out: $TETHER_STATUS"
        else
            die "$p does not forward: $why (logs in $RUN_DIR)"
        fi
    done
    [ ${#ACTIVE_PROXIES[@]} -gt 0 ] || die "no proxy to measure"
    if [ "$SERVE" -gt 0 ]; then
        serve
        return 0
    fi

    warm_up
    run_rounds

    local counters=""
    if [[ " ${ACTIVE_PROXIES[*]} " == *" tether "* ]]; then
        curl -s --max-time 5 "http://127.0.0.1:$TETHER_ADMIN_PORT/status" >"$RUN_DIR/tether-status.json" || true
        counters=$(python3 "$BENCH_DIR/tools/tether_status.py" "$RUN_DIR/tether-status.json" || true)
    fi
    # The same counters from Tether's instances of issue 12's scenarios.
    local v backend_counters="" line
    for v in $(backend_variants); do
        [ -n "${SERVER_WRAPPER[tether-$v]:-}" ] || continue
        curl -s --max-time 5 "http://127.0.0.1:${BACKEND_ADMIN_PORT[$v]}/status" >"$RUN_DIR/tether-$v-status.json" || true
        line=$(python3 "$BENCH_DIR/tools/tether_status.py" "$RUN_DIR/tether-$v-status.json" || true)
        [ -n "$line" ] && backend_counters+="${backend_counters:+; }$(variant_scenario "$v"): $line"
    done
    local elapsed=$((SECONDS - started))
    BACKEND_COUNTERS=$backend_counters
    write_meta "$elapsed" "$counters"
    local -a docs=()
    [ "$SMOKE" = 0 ] && [ "$OUT_DIR" = "$BENCH_DIR/results" ] && docs=(--docs "$REPO_DIR/docs/benchmarks.md")
    python3 "$BENCH_DIR/tools/benchtool.py" report --raw "$RAW" --meta "$RUN_DIR/meta.txt" \
        --md "$OUT_DIR/$REPORT_MD" --svg "$OUT_DIR/$REPORT_SVG" --json "$OUT_DIR/$REPORT_JSON" "${docs[@]}"
    log "report: $OUT_DIR/$REPORT_MD (run took $((elapsed / 60)) min $((elapsed % 60)) s)"

    if [ "$SMOKE" = 1 ]; then
        local expected="$PROXIES"
        # Until the gateway forwards, the smoke run can be told to accept Tether's absence.
        [ "${BENCH_SMOKE_ALLOW_NO_TETHER:-0}" = 1 ] && expected=${ACTIVE_PROXIES[*]}
        python3 "$BENCH_DIR/tools/benchtool.py" check --raw "$RAW" --md "$OUT_DIR/$REPORT_MD" \
            --proxies "$expected" --scenarios "$SCENARIOS"
    fi
}

serve() {
    log "origin http://127.0.0.1:$ORIGIN_PORT/ (stub_status on $ORIGIN_STATUS_PORT); configs and logs in $RUN_DIR"
    local p
    for p in "${ACTIVE_PROXIES[@]}"; do
        log "$p: http://127.0.0.1:${HTTP_PORT[$p]}/  https://127.0.0.1:${TLS_PORT[$p]}/ (h2)  no upstream keep-alive: http://127.0.0.1:${NKA_PORT[$p]}/"
        local v
        for v in $(backend_variants); do
            [ -n "${SERVER_WRAPPER[$p-$v]:-}" ] && log "$p $(variant_scenario "$v"): $(backend_url "$p" "$v")"
        done
    done
    [ "$NEED_GRPC" = 1 ] && log "gRPC origin: h2c 127.0.0.1:$GRPC_ORIGIN_PORT ($GRPC_PATH), counters http://127.0.0.1:$GRPC_COUNT_PORT/count"
    [ "$NEED_TLS_ORIGIN" = 1 ] && log "TLS origin: https://127.0.0.1:$ORIGIN_TLS_PORT/ (name $BACKEND_TLS_NAME, CA $RUN_DIR/backend-tls/ca.pem)"
    log "serving for $SERVE s"
    sleep "$SERVE" &
    CLIENT_PID=$!
    wait "$CLIENT_PID"
    CLIENT_PID=""
}

write_meta() {
    local elapsed=$1 counters=$2
    {
        echo "date=$(date -u +'%Y-%m-%d %H:%M UTC')"
        echo "commit=${TETHER_COMMIT:-$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)}"
        echo "rounds=$ROUNDS"
        echo "duration=$DURATION"
        echo "workers=$PROXY_WORKERS"
        echo "idle_conns=$IDLE_CONNS"
        echo "wall=$((elapsed / 60)) min $((elapsed % 60)) s"
        echo "machine=$(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), Linux $(uname -r), $(awk '/MemTotal/ {printf "%.0f GB RAM", $2 / 1048576}' /proc/meminfo)"
        echo "versions=$(nginx -v 2>&1 | sed 's/^nginx version: //'), HAProxy $(haproxy -v | awk 'NR == 1 {print $3}'), $({ wrk -v 2>&1 || true; } | awk 'NR == 1 {print $1, $2}'), $(h2load --version | head -n1), .NET $(dotnet --version 2>/dev/null || echo '?')"
        echo "retries_left=$RETRY_BUDGET"
        echo "quiet_waited=$QUIET_WAITED"
        echo "restarts=$RESTARTS"
        echo "load_before=$LOAD_BEFORE"
        echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)"
        echo "max_foreign_pct=$MAX_FOREIGN_PCT"
        echo "tether_status=$TETHER_STATUS"
        echo "tether_counters=$counters"
        echo "tether_backend_counters=${BACKEND_COUNTERS:-}"
        echo "proxies=${ACTIVE_PROXIES[*]}"
        echo "tether_engine=$TETHER_ENGINE"
    } >"$RUN_DIR/meta.txt"
}

main
