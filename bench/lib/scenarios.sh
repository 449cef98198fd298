# shellcheck shell=bash
# One run = one scenario against one proxy; it appends one record to $RAW.
# Load scenarios: small xform 16k 1m post4k latency h2tls noka, and (bench/lib/backends.sh) grpc httpsbackend
# httpsbackend-nokeepalive, where PROXY may also be "direct" (the backend without a proxy).  Memory: idle.

CLIENT_GRACE=30     # seconds a load generator may run past its duration before `timeout` stops it
CLIENT_PID=""       # the running load generator (its `timeout` wrapper), for the EXIT trap
RUNS_LEFT=0         # recorded load runs still to do
IDLE_LEFT=0         # idle-memory runs still to do

# client_command SCENARIO PROXY SECONDS: the load generator's command line, one word per line.
client_command() {
    local scenario=$1 p=$2 seconds=$3
    local http="http://127.0.0.1:${HTTP_PORT[$p]:-}"
    local -a wrk=(wrk -t1 -c64 "-d${seconds}s" --timeout 10s -s "$BENCH_DIR/wrk.lua")
    case $scenario in
        small) printf '%s\n' "${wrk[@]}" "$http/" ;;
        # small with one request-header transform (Tether requestHeaders.set, nginx proxy_set_header, HAProxy set-header)
        xform) printf '%s\n' "${wrk[@]}" "$http/xform" ;;
        16k) printf '%s\n' "${wrk[@]}" "$http/16k" ;;
        1m) printf '%s\n' "${wrk[@]}" "$http/1m" ;;
        post4k) printf '%s\n' "${wrk[@]}" "$http/post" ;;
        latency) printf '%s\n' wrk -t1 -c1 "-d${seconds}s" --timeout 10s -s "$BENCH_DIR/wrk.lua" "$http/" ;;
        noka) printf '%s\n' "${wrk[@]}" "http://127.0.0.1:${NKA_PORT[$p]}/" ;;
        h2tls) printf '%s\n' h2load -t1 -c16 -m10 -D "$seconds" --log-file="$RUN_DIR/h2load.log" \
            "https://127.0.0.1:${TLS_PORT[$p]}/" ;;
        # h2c prior knowledge to the proxy; h2load counts HTTP 200s, the gRPC origin's counter tells how many
        # of those calls it really answered (run_load).
        grpc) printf '%s\n' h2load -t1 -c16 -m10 -D "$seconds" --log-file="$RUN_DIR/h2load.log" \
            -d "$RUN_DIR/grpc-body.bin" -H "content-type: application/grpc" -H "te: trailers" \
            "http://127.0.0.1:${GRPC_PORT[$p]}$GRPC_PATH" ;;
        httpsbackend)
            if [ "$p" = direct ]; then
                printf '%s\n' "${wrk[@]}" "https://127.0.0.1:$ORIGIN_TLS_PORT/"
            else
                printf '%s\n' "${wrk[@]}" "http://127.0.0.1:${TLSB_PORT[$p]}/"
            fi
            ;;
        httpsbackend-nokeepalive) printf '%s\n' "${wrk[@]}" "http://127.0.0.1:${TLSB_NKA_PORT[$p]}/" ;;
        *) die "unknown scenario $scenario" ;;
    esac
}

# machine_ticks: "busy total" clock ticks of all CPUs from /proc/stat; busy is user nice system irq
# softirq steal. Between runs, while the benchmark idles, busy is about what others take.
machine_ticks() {
    awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6; exit }' /proc/stat
}

# seconds_to_spare: how far ahead of DEADLINE (seconds since start) the remaining runs would end;
# waits and re-runs only spend this, so a noisy machine cannot push the whole run past the deadline.
seconds_to_spare() {
    echo $((DEADLINE - SECONDS - RUNS_LEFT * (DURATION + 1) - IDLE_LEFT * 10 - 20))
}

# wait_quiet: between runs only foreign work keeps the CPU busy; wait (within QUIET_BUDGET seconds
# for the whole benchmark, at most 9 s here) until it takes no more than MAX_FOREIGN_PCT.
wait_quiet() {
    local waited=0 a b busy
    while [ "$QUIET_BUDGET" -gt 0 ] && [ $waited -lt 30 ] && [ "$(seconds_to_spare)" -gt 1 ]; do
        read -r -a a <<<"$(machine_ticks)"
        sleep 0.3
        read -r -a b <<<"$(machine_ticks)"
        busy=$(((b[0] - a[0]) * 100 / (b[1] - a[1] > 0 ? b[1] - a[1] : 1)))
        [ "$busy" -le "$MAX_FOREIGN_PCT" ] && break
        waited=$((waited + 1))
        # waited counts 0.3 s samples; the budget is in seconds.
        [ $((waited % 3)) -eq 0 ] && QUIET_BUDGET=$((QUIET_BUDGET - 1))
    done
    [ $waited -gt 0 ] && QUIET_WAITED=$((QUIET_WAITED + (waited + 2) / 3))
    return 0
}

# run_load SCENARIO PROXY ROUND SECONDS [record|discard]
# Measures once; when other processes on the machine (tools/foreign_cpu.py: not this harness and
# what it started, not kernel threads) took more than MAX_FOREIGN_PCT of the CPU during the run,
# measures again, within RETRY_BUDGET for the whole benchmark. The record keeps the share of
# foreign CPU of the run it reports.
run_load() {
    local scenario=$1 p=$2 round=$3 seconds=$4 keep=${5:-record}
    local server=$p
    case $scenario in
        noka) server="$p-nka" ;;
        grpc) server="$p-grpc" ;;
        httpsbackend) server="$p-tlsb" ;;
        httpsbackend-nokeepalive) server="$p-tlsb-nka" ;;
    esac
    if [ "$p" = direct ]; then
        server=origin
        [ "$scenario" = grpc ] && server=grpc-origin
    fi
    if [ -n "${SKIP["$scenario $p"]:-}" ]; then
        if [ "$keep" = record ]; then
            RUNS_LEFT=$((RUNS_LEFT - 1))
            python3 "$BENCH_DIR/tools/benchtool.py" skip --out "$RAW" --round "$round" --scenario "$scenario" \
                --proxy "$p" --reason "${SKIP["$scenario $p"]}"
        fi
        return 0
    fi
    local -a cmd
    mapfile -t cmd < <(client_command "$scenario" "$p" "$seconds")
    local post_bytes=0
    [ "$scenario" = post4k ] && post_bytes=4096

    ensure_running origin "$round"
    ensure_running "$server" "$round"
    [ "$keep" = record ] && wait_quiet
    local attempt=1 accepts_before cpu_before cpu_after accepts_after foreign foreign_ticks m_before m_after
    local -a grpc_before=() grpc_after=()
    local tls_before=0
    while :; do
        rm -f "$RUN_DIR/h2load.log"
        accepts_before=$(origin_accepts)
        [ "$scenario" = grpc ] && read -r -a grpc_before <<<"$(grpc_counts)"
        tls_before=$(tls_log_lines)
        python3 "$BENCH_DIR/tools/foreign_cpu.py" snap $$ "$RUN_DIR/foreign.json"
        read -r -a m_before <<<"$(machine_ticks)"
        cpu_before=$(cpu_ticks "$server")
        BENCH_POST_BYTES=$post_bytes BENCH_ACCEPT_ENCODING=${TETHER_COMPRESSION:-off} timeout --kill-after=5 $((seconds + CLIENT_GRACE)) "${cmd[@]}" \
            >"$RUN_DIR/client.out" 2>&1 &
        CLIENT_PID=$!
        wait "$CLIENT_PID" || true
        CLIENT_PID=""
        cpu_after=$(cpu_ticks "$server")
        read -r -a m_after <<<"$(machine_ticks)"
        foreign_ticks=$(python3 "$BENCH_DIR/tools/foreign_cpu.py" diff $$ "$RUN_DIR/foreign.json")
        accepts_after=$(origin_accepts)
        [ "$scenario" = grpc ] && read -r -a grpc_after <<<"$(grpc_counts)"
        [ "$keep" = record ] || return 0

        # Foreign CPU, in tenths of a percent of the machine's capacity during the run.
        foreign=$((foreign_ticks * 1000 / (m_after[1] - m_before[1] > 0 ? m_after[1] - m_before[1] : 1)))
        if [ "$foreign" -le $((MAX_FOREIGN_PCT * 10)) ] || [ "$RETRY_BUDGET" -le 0 ] ||
            [ "$attempt" -gt "$MAX_RETRIES" ] || [ "$(seconds_to_spare)" -lt $((seconds + 2)) ]; then
            break
        fi
        RETRY_BUDGET=$((RETRY_BUDGET - 1))
        log "  $p $scenario: other processes took $((foreign / 10)).$((foreign % 10))% of the CPU; measuring again"
        attempt=$((attempt + 1))
    done

    RUNS_LEFT=$((RUNS_LEFT - 1))
    # The second stub_status request is itself one accepted connection.
    local accepts=$((accepts_after - accepts_before - 1))
    local tool=wrk
    local -a extra=()
    [ "$scenario" = h2tls ] && tool=h2load
    if [ "$scenario" = grpc ]; then
        # Connections and calls counted by the gRPC origin itself.
        tool=h2load
        accepts=$((grpc_after[1] - grpc_before[1]))
        extra+=(--backend-calls $((grpc_after[0] - grpc_before[0])) --protocol h2c)
    fi
    if [[ $scenario == httpsbackend* ]]; then
        local -a reuse
        read -r -a reuse <<<"$(tls_reuse_since "$tls_before")"
        extra+=(--tls-full "${reuse[0]}" --tls-resumed "${reuse[1]}" --tls-protocol "${reuse[2]}")
    fi
    cp "$RUN_DIR/client.out" "$RUN_DIR/out/r$round-$scenario-$p.txt"
    python3 "$BENCH_DIR/tools/benchtool.py" "$tool" --out "$RAW" --round "$round" --scenario "$scenario" \
        --proxy "$p" --stdout "$RUN_DIR/client.out" --h2-log "$RUN_DIR/h2load.log" \
        --cpu-ticks $((cpu_after - cpu_before)) --accepts "$accepts" \
        --foreign-pct "$((foreign / 10)).$((foreign % 10))" --attempts "$attempt" "${extra[@]}"
}

# run_idle PROXY ROUND: a fresh instance of PROXY, warmed by one second of load, then its RSS before
# and while IDLE_CONNS keep-alive clients that each made one request sit idle.
run_idle() {
    local p=$1 round=$2 name="$1-idle"
    local ready="$RUN_DIR/idle.ready" release="$RUN_DIR/idle.release" url="http://127.0.0.1:${IDLE_PORT[$1]}/"
    rm -f "$ready" "$release"
    IDLE_LEFT=$((IDLE_LEFT - 1))
    ensure_running origin "$round"
    start_instance "$p" idle
    if ! wait_http "$url" 20; then
        stop_server "$name"
        python3 "$BENCH_DIR/tools/benchtool.py" idle --out "$RAW" --round "$round" --proxy "$p" --ready-file "$ready"
        return 0
    fi
    # Warm: JIT, pools and lazily allocated tables come from the load, not from the idle connections.
    timeout --kill-after=5 30 wrk -t1 -c64 -d1s "$url" >/dev/null 2>&1 || true
    wait_quiet
    sleep "$IDLE_SETTLE"
    local before after i
    before=$(rss_kb "$name")
    timeout --kill-after=5 120 python3 "$BENCH_DIR/tools/idle_clients.py" --port "${IDLE_PORT[$p]}" \
        --conns "$IDLE_CONNS" --ready-file "$ready" --release-file "$release" --max-hold 60 \
        >"$RUN_DIR/idle.out" 2>&1 &
    CLIENT_PID=$!
    for i in $(seq 1 900); do
        [ -f "$ready" ] && break
        kill -0 "$CLIENT_PID" 2>/dev/null || break
        sleep 0.1
    done
    sleep "$IDLE_SETTLE"
    after=$(rss_kb "$name")
    touch "$release"
    wait "$CLIENT_PID" 2>/dev/null || true
    CLIENT_PID=""
    stop_server "$name"
    python3 "$BENCH_DIR/tools/benchtool.py" idle --out "$RAW" --round "$round" --proxy "$p" \
        --ready-file "$ready" --rss-before "$before" --rss-after "$after"
}

# rotated ROUND WORDS...: WORDS rotated left by ROUND, so no proxy always runs first.
rotated() {
    local round=$1
    shift
    local -a words=("$@")
    local n=${#words[@]} i
    for ((i = 0; i < n; i++)); do
        echo "${words[$(((i + round) % n))]}"
    done
}

# participants SCENARIO PROXY...: the proxies given, and "direct" first where the scenario measures the
# backend without a proxy too.
participants() {
    local scenario=$1
    shift
    if is_backend_scenario "$scenario" && has_direct "$scenario"; then echo direct; fi
    printf '%s\n' "$@"
}

warm_up() {
    [ "$WARMUP" -gt 0 ] || return 0
    log "warm-up: ${WARMUP} s per scenario and proxy (not recorded)"
    local scenario p
    # The backend alone first: the gRPC origin's JIT is not paid for by whichever proxy comes first.
    for scenario in "${LOAD_SCENARIOS[@]}"; do
        has_direct "$scenario" && is_backend_scenario "$scenario" && run_load "$scenario" direct 0 "$WARMUP" discard
    done
    for p in "${ACTIVE_PROXIES[@]}"; do
        for scenario in "${LOAD_SCENARIOS[@]}"; do
            run_load "$scenario" "$p" 0 "$WARMUP" discard
        done
    done
}

run_rounds() {
    local round scenario p
    RUNS_LEFT=0
    for scenario in "${LOAD_SCENARIOS[@]}"; do
        RUNS_LEFT=$((RUNS_LEFT + ROUNDS * $(participants "$scenario" "${ACTIVE_PROXIES[@]}" | wc -l)))
    done
    IDLE_LEFT=$((ROUNDS * RUN_IDLE * ${#ACTIVE_PROXIES[@]}))
    for ((round = 1; round <= ROUNDS; round++)); do
        log "round $round of $ROUNDS"
        local -a order
        mapfile -t order < <(rotated "$round" "${ACTIVE_PROXIES[@]}")
        for scenario in "${LOAD_SCENARIOS[@]}"; do
            local -a these
            mapfile -t these < <(rotated "$round" $(participants "$scenario" "${ACTIVE_PROXIES[@]}"))
            for p in "${these[@]}"; do
                run_load "$scenario" "$p" "$round" "$DURATION"
            done
        done
        if [ "$RUN_IDLE" = 1 ]; then
            for p in "${order[@]}"; do
                run_idle "$p" "$round"
            done
        fi
    done
}
