#!/usr/bin/env bash
# The cost of Tether's access log (issue 14), measured as an A/B in one run: one nginx origin and two
# Tether instances in front of it, identical but for accessLog (off, and the given format to a file).
# Each round runs wrk's small-request scenario (64 connections, 19 B body) against both, in an order
# that alternates per round, so slow drift on a shared or virtual machine falls on both sides alike.
# Prints medians of requests/s and of CPU time per request (utime + stime of the Tether process from
# /proc) for each side, the ratio, and the median of the per-round ratios; checks that the logging side
# wrote one line per request and dropped none (or says how many it dropped).
#
#   bench/accesslog.sh [--rounds N] [--duration S] [--format json|combined] [--port-base N] [--no-build]
#
# Stops everything it started (by PID).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=10 DURATION=3 FORMAT=json BASE=44000 BUILD=1 WARMUP=5
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) ROUNDS=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --format) FORMAT=$2; shift ;;
        --port-base) BASE=$2; shift ;;
        --no-build) BUILD=0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[[ $FORMAT =~ ^(json|combined)$ ]] || { echo "--format is json or combined" >&2; exit 2; }
for tool in nginx wrk curl; do command -v $tool >/dev/null || { echo "$tool is needed (apt-get install $tool)" >&2; exit 2; }; done

RUN=$(mktemp -d /tmp/tether-accesslog.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
log() { printf '[accesslog %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

EXE=bench/.build/tether/tether
if [ "$BUILD" = 1 ] || [ ! -x "$EXE" ]; then
    log "building Tether (Release)"
    dotnet publish src/Tether -c Release -o bench/.build/tether >"$RUN/build.log" 2>&1 || { tail -20 "$RUN/build.log"; exit 1; }
fi

ORIGIN=$((BASE + 1)) OFF=$((BASE + 2)) ON=$((BASE + 3))
cat >"$RUN/origin.conf" <<CONF
worker_processes 1;
error_log $RUN/origin-error.log;
pid $RUN/origin.pid;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$ORIGIN; location / { return 200 "hello from origin\n"; } }
}
CONF
timeout 3600 nginx -c "$RUN/origin.conf" -p "$RUN" -g 'daemon off;' >"$RUN/origin.log" 2>&1 &
PIDS+=($!)

tether_config() { # NAME PORT ADMIN ACCESSLOG_PATH
    cat >"$RUN/$1.json" <<CONF
{
  "listeners": [ { "address": "127.0.0.1:$2", "protocols": "http1" } ],
  "downstream": { "maxRequestsPerConnection": 0 },
  "admin": { "address": "127.0.0.1:$3" },
  "accessLog": { "path": "$4", "format": "$FORMAT" },
  "routes": [ { "match": { "pathPrefix": "/" }, "cluster": "origin" } ],
  "clusters": { "origin": { "destinations": [ "127.0.0.1:$ORIGIN" ], "pool": { "maxIdlePerDestination": 64, "maxRequestsPerConnection": 0 } } }
}
CONF
}
tether_config off "$OFF" $((BASE + 12)) off
tether_config on "$ON" $((BASE + 13)) "$RUN/access.log"
declare -A PID
for side in off on; do
    timeout 3600 "$EXE" run --config "$RUN/$side.json" --log-level Warning >"$RUN/$side.log" 2>&1 &
    wrapper=$!
    PIDS+=($wrapper)
    for _ in $(seq 100); do PID[$side]=$(pgrep -P "$wrapper" | head -1 || true); [ -n "${PID[$side]}" ] && break; sleep 0.05; done
done
declare -A PORT=([off]=$OFF [on]=$ON)
for side in off on; do
    for _ in $(seq 200); do curl -sf -o /dev/null "http://127.0.0.1:${PORT[$side]}/" && break; sleep 0.1; done
    curl -sf -o /dev/null "http://127.0.0.1:${PORT[$side]}/" || { cat "$RUN/$side.log"; echo "Tether ($side) does not answer" >&2; exit 1; }
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
one_run() { # SIDE SECONDS -> "reqs cpu_us_per_req"
    local side=$1 t0 t1 out reqs
    t0=$(ticks "${PID[$side]}")
    out=$(wrk -t1 -c64 "-d${2}s" --timeout 10s "http://127.0.0.1:${PORT[$side]}/")
    t1=$(ticks "${PID[$side]}")
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    awk -v r="$reqs" -v d="$2" -v t=$((t1 - t0)) -v hz="$HZ" 'BEGIN { printf "%.0f %.1f\n", r / d, t * 1e6 / hz / r }'
}

log "warming up both sides for ${WARMUP} s each"
one_run off "$WARMUP" >/dev/null
one_run on "$WARMUP" >/dev/null
# The writer thread ("tether-access-log", shown as "tether-access-l"): its CPU time is the formatting and writing.
writer_ticks() { local t; for t in /proc/"${PID[on]}"/task/*; do [ "$(cat "$t/comm")" = tether-access-l ] && awk '{print $14 + $15}' "$t/stat"; done; return 0; }
writer_before=$(writer_ticks)
# The GC's view, from each side's /metrics: bytes allocated, pause time and gen 1/gen 2 collections.
declare -A ADMIN=([off]=$((BASE + 12)) [on]=$((BASE + 13)))
gc_stats() { # SIDE -> "allocated pause gen1 gen2"
    curl -s "http://127.0.0.1:${ADMIN[$1]}/metrics" | awk '
        /^dotnet_gc_allocated_bytes_total / {a = $2}
        /^dotnet_gc_pause_seconds_total / {p = $2}
        /^dotnet_gc_collections_total\{generation="1"\}/ {g1 = $2}
        /^dotnet_gc_collections_total\{generation="2"\}/ {g2 = $2}
        END {printf "%s %s %s %s\n", a, p, g1, g2}'
}
declare -A GC0
for side in off on; do GC0[$side]=$(gc_stats $side); done
requests_off=0
lines_before=$(wc -l <"$RUN/access.log")
requests_on=0
: >"$RUN/rounds.txt"
for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order="off on"; else order="on off"; fi
    declare -A RPS CPU
    for side in $order; do
        read -r RPS[$side] CPU[$side] < <(one_run "$side" "$DURATION")
    done
    requests_on=$((requests_on + RPS[on] * DURATION))
    requests_off=$((requests_off + RPS[off] * DURATION))
    echo "$r ${RPS[off]} ${CPU[off]} ${RPS[on]} ${CPU[on]}" >>"$RUN/rounds.txt"
    log "round $r: off ${RPS[off]} req/s ${CPU[off]} µs/req; $FORMAT ${RPS[on]} req/s ${CPU[on]} µs/req"
done
declare -A GCLINE
for side in off on; do
    n=$requests_off; [ $side = on ] && n=$requests_on
    GCLINE[$side]=$(awk -v n="$n" -v a="${GC0[$side]}" -v b="$(gc_stats $side)" 'BEGIN {
        split(a, x, " "); split(b, y, " ");
        printf "%.0f B allocated and %.2f µs of GC pause per request, %d gen 1 and %d gen 2 collections", (y[1] - x[1]) / n, (y[2] - x[2]) * 1e6 / n, y[3] - x[3], y[4] - x[4] }')
done
sleep 1
lines=$(($(wc -l <"$RUN/access.log") - lines_before))
writer_us=$(awk -v t=$(($(writer_ticks) - writer_before)) -v hz="$HZ" -v n="$lines" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }')
dropped=$(curl -s "http://127.0.0.1:$((BASE + 13))/metrics" | awk '/^tether_access_log_lines_dropped_total/ && !seen {print $2; seen = 1}')

median() { sort -n | awk '{a[NR] = $1} END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
m_rps_off=$(awk '{print $2}' "$RUN/rounds.txt" | median)
m_cpu_off=$(awk '{print $3}' "$RUN/rounds.txt" | median)
m_rps_on=$(awk '{print $4}' "$RUN/rounds.txt" | median)
m_cpu_on=$(awk '{print $5}' "$RUN/rounds.txt" | median)
pr_rps=$(awk '{printf "%.4f\n", $4 / $2}' "$RUN/rounds.txt" | median)
pr_cpu=$(awk '{printf "%.4f\n", $5 / $3}' "$RUN/rounds.txt" | median)
cat <<REPORT

## Access log cost: small requests (wrk -t1 -c64, 19 B), $ROUNDS rounds x $DURATION s, commit $(git rev-parse --short HEAD)

| | accessLog off | accessLog $FORMAT to a file | $FORMAT ÷ off (of medians) | median of per-round ratios |
|---|---:|---:|---:|---:|
| requests/s (median) | $m_rps_off | $m_rps_on | $(awk -v a="$m_rps_on" -v b="$m_rps_off" 'BEGIN {printf "%.3f", a / b}') | $pr_rps |
| CPU µs per request (median) | $m_cpu_off | $m_cpu_on | $(awk -v a="$m_cpu_on" -v b="$m_cpu_off" 'BEGIN {printf "%.3f", a / b}') | $pr_cpu |

GC, off: ${GCLINE[off]}; $FORMAT: ${GCLINE[on]}.
The writer thread's CPU time per line (formatting and writing, off the request path): $writer_us µs.
Lines written during the rounds: $lines for about $requests_on requests; dropped (tether_access_log_lines_dropped_total): ${dropped:-?}.
Load average after: $(cut -d' ' -f1-3 /proc/loadavg). Rounds (round, off req/s, off µs, on req/s, on µs):
$(sed 's/^/    /' "$RUN/rounds.txt")
REPORT
