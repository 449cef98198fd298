#!/usr/bin/env bash
# The floor under a Kestrel-fronted proxy: what Kestrel costs before any proxying, measured beside
# nginx and the proxies on the same machine in one run.
#
#   bench/floor.sh            3 rounds x 4 s per server, then idle memory (about 2 minutes)
#   bench/floor.sh --smoke    the same in seconds; asserts that every server answered (CI)
#
# Servers, all answering the benchmark's 19-byte page over HTTP/1.1 keep-alive (wrk -t1 -c64):
#   origin    nginx answering the page itself (1 worker, as in bench/run.sh)
#   kestrel   bench/floor: Kestrel's HTTP/1.1 server answering the page itself, Tether's transport settings
#   handler   bench/floor: Kestrel's socket transport and a fixed-response connection handler (no HTTP layer)
#   conn      bench/floor: Tether's minimal HTTP/1.1 handler as a connection middleware on Kestrel's transport (issue 15 a)
#   sockets   bench/floor: the same handler on Tether's own accept loop, zero-byte receives while idle (issue 15 b)
#   nginx     nginx proxying to origin (keepalive 64), as in bench/run.sh
#   tether    Tether proxying to origin, as in bench/run.sh
# Measures: requests/s, p99, CPU time per request (utime+stime of the server's processes ÷ requests),
# and user-space memory per idle keep-alive connection (RSS growth ÷ connections, fresh instance).
# Writes bench/results/floor.md (a smoke run: bench/results/tmp/smoke/floor.md). Options: --rounds N --duration S --idle-conns N --no-build --port-base N --out DIR
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/lib/common.sh
source "$BENCH_DIR/lib/common.sh"
# shellcheck source=bench/lib/servers.sh
source "$BENCH_DIR/lib/servers.sh"

ROUNDS=3 DURATION=4 IDLE_CONNS=5000 PORT_BASE=29000 BUILD=1 SMOKE=0 OUT_DIR=""
while [ $# -gt 0 ]; do
    case $1 in
        --smoke) SMOKE=1 ROUNDS=1 DURATION=1 IDLE_CONNS=200 ;;
        --rounds) ROUNDS=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --idle-conns) IDLE_CONNS=$2; shift ;;
        --no-build) BUILD=0 ;;
        --port-base) PORT_BASE=$2; shift ;;
        --out) OUT_DIR=$2; shift ;;
        -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
# A smoke run does not overwrite the committed report.
[ "$SMOKE" = 1 ] && OUT_DIR=${OUT_DIR:-$BENCH_DIR/results/tmp/smoke}
OUT_DIR=${OUT_DIR:-$BENCH_DIR/results}
for n in "$ROUNDS" "$DURATION" "$IDLE_CONNS" "$PORT_BASE"; do
    [[ $n =~ ^[0-9]+$ ]] && [ "$n" -gt 0 ] || die "'$n' is not a positive whole number"
done

PROXY_WORKERS=$(nproc)
NGINX_MAX_TEMP_FILE=0
TETHER_SOURCE=worktree
TETHER_STATUS=ok
RUN_DIR="$BENCH_DIR/results/tmp/floor"
SERVER_MAX_SECONDS=$((300 + ROUNDS * 5 * (DURATION + 2)))
FLOOR_EXE="$BENCH_DIR/.build/floor/floor"
SERVERS="origin kestrel handler conn sockets nginx tether"
declare -A URL=() RPS=() CPU=() P99=() IDLE=()

trap 'log "failed: line $LINENO: $BASH_COMMAND"' ERR
trap 'trap - EXIT; set +e; stop_all_servers' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# median VALUES...: the middle value (the lower middle for an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# start_floor NAME MODE PORT
start_floor() {
    start_server "$1" "$FLOOR_EXE" "$2" "$3"
    SERVER_URL[$1]="http://127.0.0.1:$3/"
    wait_http "http://127.0.0.1:$3/" 20 || die "$1 did not answer"
}

# measure NAME: one wrk run; appends requests/s, p99 (ms) and CPU µs per request to the lists.
measure() {
    local name=$1 before after out rps p99
    ensure_running "$name" 0
    before=$(cpu_ticks "$name")
    out=$(timeout --kill-after=5 $((DURATION + 30)) wrk -t1 -c64 -d"${DURATION}s" --latency "${URL[$name]}" 2>&1) || true
    after=$(cpu_ticks "$name")
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {v = $2; if (v ~ /us$/) {sub(/us$/, "", v); v /= 1000} else if (v ~ /ms$/) sub(/ms$/, "", v); else if (v ~ /s$/) {sub(/s$/, "", v); v *= 1000}; print v}' <<<"$out")
    if [ -z "$rps" ] || [ "$(awk -v r="$rps" 'BEGIN {print (r > 0)}')" != 1 ] || grep -q 'Non-2xx' <<<"$out"; then
        log "  $name: no clean answer from wrk"
        printf '%s\n' "$out" >&2
        rps=0
    fi
    RPS[$name]+="$rps "
    P99[$name]+="${p99:-0} "
    CPU[$name]+="$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v r="$rps" -v d="$DURATION" \
        'BEGIN {printf "%.1f", (r > 0 ? t / hz * 1e6 / (r * d) : 0)}') "
    log "  $name: $rps req/s, p99 ${p99:-?} ms"
}

# idle NAME START-COMMAND...: a fresh instance, warmed by one second of load; RSS growth per idle connection.
idle() {
    local name=$1 port=$2 ready="$RUN_DIR/idle.ready" release="$RUN_DIR/idle.release" before after
    shift 2
    rm -f "$ready" "$release"
    "$@"
    wait_http "http://127.0.0.1:$port/" 20 || die "$name did not answer"
    # Warm: JIT, pools and lazily allocated tables come from the load, not from the idle connections.
    timeout --kill-after=5 30 wrk -t1 -c64 -d1s "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
    sleep 1
    before=$(rss_kb "$name")
    timeout --kill-after=5 120 python3 "$BENCH_DIR/tools/idle_clients.py" --port "$port" --conns "$IDLE_CONNS" \
        --ready-file "$ready" --release-file "$release" --max-hold 60 >"$RUN_DIR/idle.out" 2>&1 &
    local client=$! i
    for i in $(seq 1 900); do
        [ -f "$ready" ] && break
        kill -0 "$client" 2>/dev/null || break
        sleep 0.1
    done
    sleep 1
    after=$(rss_kb "$name")
    touch "$release"
    wait "$client" 2>/dev/null || true
    stop_server "$name"
    local ok
    ok=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("ok", 0))' "$ready" 2>/dev/null || echo 0)
    if [ "$ok" -gt 0 ]; then
        IDLE[$name]=$(awk -v a="$after" -v b="$before" -v n="$ok" 'BEGIN {printf "%.2f", (a - b) / n}')
    else
        IDLE[$name]=0
    fi
    log "  $name: $ok idle connections held, ${IDLE[$name]} KB each"
}

main() {
    local started=$SECONDS
    install_missing
    raise_fd_limit
    rm -rf "$RUN_DIR"
    mkdir -p "$RUN_DIR" "$OUT_DIR"
    assign_ports
    local floor_port=$((PORT_BASE + 150)) handler_port=$((PORT_BASE + 151)) idle_port=$((PORT_BASE + 152)) p
    local conn_port=$((PORT_BASE + 153)) sockets_port=$((PORT_BASE + 154))
    for p in "$floor_port" "$handler_port" "$idle_port" "$conn_port" "$sockets_port"; do
        port_free "$p" || die "port $p on 127.0.0.1 is in use; pass --port-base"
    done
    make_fixtures

    log "building bench/floor (Release)"
    DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 timeout 600 dotnet publish "$BENCH_DIR/floor" -c Release \
        -o "$BENCH_DIR/.build/floor" >"$RUN_DIR/floor-build.log" 2>&1 || { tail -n 20 "$RUN_DIR/floor-build.log" >&2; die "bench/floor does not build"; }
    if [ "$BUILD" = 1 ]; then
        build_tether || die "Tether does not build: $TETHER_STATUS"
    fi
    TETHER_EXE="$BENCH_DIR/.build/tether/tether"
    [ -x "$TETHER_EXE" ] || die "no Tether build at bench/.build/tether (run without --no-build)"

    start_origin
    start_floor kestrel kestrel "$floor_port"
    start_floor handler handler "$handler_port"
    start_floor conn conn "$conn_port"
    start_floor sockets sockets "$sockets_port"
    start_instance nginx main
    start_instance tether main
    for p in nginx tether; do
        wait_http "http://127.0.0.1:${HTTP_PORT[$p]}/" 20 &&
            [ "$(curl -s --max-time 5 "http://127.0.0.1:${HTTP_PORT[$p]}/" | wc -c)" = "$ORIGIN_BODY_BYTES" ] ||
            die "$p does not forward the origin's page"
    done
    URL[origin]="http://127.0.0.1:$ORIGIN_PORT/"
    URL[kestrel]="http://127.0.0.1:$floor_port/"
    URL[handler]="http://127.0.0.1:$handler_port/"
    URL[conn]="http://127.0.0.1:$conn_port/"
    URL[sockets]="http://127.0.0.1:$sockets_port/"
    URL[nginx]="http://127.0.0.1:${HTTP_PORT[nginx]}/"
    URL[tether]="http://127.0.0.1:${HTTP_PORT[tether]}/"

    log "warm-up"
    local name
    for name in $SERVERS; do
        timeout --kill-after=5 30 wrk -t1 -c64 -d1s "${URL[$name]}" >/dev/null 2>&1 || true
    done
    local round order
    for round in $(seq 1 "$ROUNDS"); do
        log "round $round of $ROUNDS"
        # Rotated each round, so no server always runs first.
        order=$(awk -v r="$round" '{n = split($0, w, " "); for (i = 0; i < n; i++) printf "%s ", w[(i + r - 1) % n + 1]}' <<<"$SERVERS")
        for name in $order; do
            measure "$name"
        done
    done
    stop_server kestrel
    stop_server handler
    stop_server conn
    stop_server sockets

    log "idle memory: $IDLE_CONNS keep-alive connections per server"
    idle kestrel "$idle_port" start_floor kestrel kestrel "$idle_port"
    idle handler "$idle_port" start_floor handler handler "$idle_port"
    idle conn "$idle_port" start_floor conn conn "$idle_port"
    idle sockets "$idle_port" start_floor sockets sockets "$idle_port"
    idle tether-idle "${IDLE_PORT[tether]}" start_instance tether idle
    IDLE[tether]=${IDLE[tether-idle]}
    idle nginx-idle "${IDLE_PORT[nginx]}" start_instance nginx idle
    IDLE[nginx]=${IDLE[nginx-idle]}

    write_report $((SECONDS - started))
    if [ "$SMOKE" = 1 ]; then
        for name in $SERVERS; do
            [ "$(median ${RPS[$name]})" != 0 ] || die "smoke: $name answered no load"
        done
        for name in kestrel handler conn sockets tether nginx; do
            [ "${IDLE[$name]}" != 0 ] || die "smoke: no idle-memory figure for $name"
        done
        log "smoke: every server answered"
    fi
}

write_report() {
    local elapsed=$1 md="$OUT_DIR/floor.md" name
    local -A what=(
        [origin]="nginx answering the page itself (the origin)"
        [kestrel]="Kestrel HTTP/1.1 answering the page itself"
        [handler]="Kestrel's socket transport, fixed-response handler (no HTTP layer)"
        [conn]="Tether's minimal HTTP/1.1 handler, connection middleware on Kestrel's transport (a)"
        [sockets]="Tether's minimal HTTP/1.1 handler, own accept loop, zero-byte receives (b)"
        [nginx]="nginx proxying to the origin"
        [tether]="Tether proxying to the origin"
    )
    {
        echo "Run $(date -u '+%Y-%m-%d %H:%M') UTC at commit \`$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)\`," \
            "$ROUNDS round(s) of ${DURATION} s per server (medians), \`wrk -t1 -c64\`, 19-byte page; took $((elapsed / 60)) min $((elapsed % 60)) s;" \
            "load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
        echo
        echo "| Server | What it does | req/s | p99 (ms) | CPU µs per request | KB per idle connection ($IDLE_CONNS held) |"
        echo "|---|---|---:|---:|---:|---:|"
        for name in $SERVERS; do
            # shellcheck disable=SC2086
            printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "${what[$name]}" \
                "$(median ${RPS[$name]} | awk '{printf "%d", $1}')" "$(median ${P99[$name]})" \
                "$(median ${CPU[$name]})" "${IDLE[$name]:-–}"
        done
        echo
        echo "Rounds (req/s): $(for name in $SERVERS; do printf '%s %s; ' "$name" "${RPS[$name]% }"; done)"
    } >"$md"
    cat "$md"
    log "report: $md"
}

main
