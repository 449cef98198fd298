# shellcheck shell=bash
# Logging, dependency installation and process bookkeeping shared by bench/run.sh.
# Every server is started through start_server, runs under `timeout` (so it dies even if this
# script is SIGKILLed) and is stopped by stop_all_servers, which run.sh installs as the EXIT trap.

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# install_missing: Debian packages the harness needs; a clean machine has only the .NET SDK.
install_missing() {
    local -a need=()
    local pkg
    for pkg in nginx haproxy wrk nghttp2-client python3 curl openssl procps; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
    done
    [ ${#need[@]} -eq 0 ] && return 0
    log "installing ${need[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    # Debian starts the packaged services on install where it can; the bench runs its own.
    $sudo systemctl stop nginx haproxy >/dev/null 2>&1 || true
    $sudo service nginx stop >/dev/null 2>&1 || true
    $sudo service haproxy stop >/dev/null 2>&1 || true
}

# raise_fd_limit: 5,000 idle clients plus the proxies' upstream sockets need more than the usual 1,024.
raise_fd_limit() {
    local hard
    hard=$(ulimit -Hn)
    if [ "$hard" = "unlimited" ]; then
        ulimit -n 65536 2>/dev/null || true
    else
        ulimit -n "$hard" 2>/dev/null || true
    fi
    log "open-files limit: $(ulimit -n)"
}

declare -a SERVER_PIDS=()      # pids of the `timeout` wrappers, in start order
declare -A SERVER_PID=()       # name -> pid of the server process itself (child of its wrapper)
declare -A SERVER_CMD=()       # name -> its command line, shell-quoted, to start it again
declare -A SERVER_URL=()       # name -> a URL that answers once it is ready
declare -A SERVER_WRAPPER=()   # name -> pid of its `timeout` wrapper
RESTARTS=""                    # servers found dead and started again ("name (round N)", ...)

# start_server NAME CMD...: start a long-running server in the background under `timeout`.
# With START_SOFT=1, a server that exits at once makes it return 1 instead of ending the run.
start_server() {
    local name=$1
    shift
    SERVER_CMD[$name]=$(printf '%q ' "$@")
    timeout --signal=TERM --kill-after=5 "$SERVER_MAX_SECONDS" "$@" >"$RUN_DIR/$name.log" 2>&1 &
    local wrapper=$!
    SERVER_PIDS+=("$wrapper")
    SERVER_WRAPPER[$name]=$wrapper
    local child="" i
    for i in $(seq 1 100); do
        child=$(pgrep -P "$wrapper" | head -n1 || true)
        [ -n "$child" ] && break
        kill -0 "$wrapper" 2>/dev/null || break
        sleep 0.05
    done
    if [ -z "$child" ]; then
        [ "${START_SOFT:-0}" = 1 ] && return 1
        cat "$RUN_DIR/$name.log" >&2
        die "$name did not start"
    fi
    SERVER_PID[$name]=$child
}

# ensure_running NAME ROUND: start NAME again if something outside the harness ended it (on a shared
# machine, `pkill -x nginx` in another job does); the report lists every restart.
ensure_running() {
    local name=$1 round=$2
    kill -0 "${SERVER_PID[$name]}" 2>/dev/null && return 0
    log "$name is gone (ended from outside the harness); starting it again"
    RESTARTS="${RESTARTS:+$RESTARTS, }$name (round $round)"
    eval "start_server $name ${SERVER_CMD[$name]}"
    wait_http "${SERVER_URL[$name]}" 20 || log "$name did not come back"
}

# stop_server NAME: stop one server (TERM, then KILL after 10 s) and forget it.
stop_server() {
    local name=$1 wrapper=${SERVER_WRAPPER[$1]} i pid
    kill -TERM "$wrapper" 2>/dev/null || true
    for i in $(seq 1 100); do
        kill -0 "$wrapper" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$wrapper" 2>/dev/null || true
    pkill -KILL -P "$wrapper" 2>/dev/null || true
    wait "$wrapper" 2>/dev/null || true
    local -a keep=()
    for pid in "${SERVER_PIDS[@]}"; do
        [ "$pid" = "$wrapper" ] || keep+=("$pid")
    done
    SERVER_PIDS=("${keep[@]}")
    unset "SERVER_PID[$name]" "SERVER_WRAPPER[$name]"
}

# stop_all_servers: TERM every wrapper (timeout forwards it to its server), wait up to 10 s, then KILL.
stop_all_servers() {
    local pid i
    [ ${#SERVER_PIDS[@]} -eq 0 ] && return 0
    for pid in "${SERVER_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for i in $(seq 1 100); do
        local alive=0
        for pid in "${SERVER_PIDS[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        [ $alive -eq 0 ] && break
        sleep 0.1
    done
    for pid in "${SERVER_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
        # the server itself, in case its wrapper went first
        pkill -KILL -P "$pid" 2>/dev/null || true
    done
    for pid in "${SERVER_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    SERVER_PIDS=()
}

# process_tree PID: PID and its direct children (nginx master + workers; other servers have none).
process_tree() {
    local pid=$1
    echo "$pid"
    pgrep -P "$pid" || true
}

# cpu_ticks NAME: utime+stime, in clock ticks, of the server and its children, all threads.
cpu_ticks() {
    local total=0 pid stat
    local -a fields
    for pid in $(process_tree "${SERVER_PID[$1]}"); do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        # The command name may hold spaces; the fields after ") " start at field 3 (state),
        # so utime (field 14) and stime (field 15) are fields[11] and fields[12].
        read -r -a fields <<<"${stat##*) }"
        total=$((total + fields[11] + fields[12]))
    done
    echo "$total"
}

# rss_kb NAME: resident set size, in KB, of the server and its children.
rss_kb() {
    local total=0 pid kb
    for pid in $(process_tree "${SERVER_PID[$1]}"); do
        kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}

# wait_http URL SECONDS [CURL-ARGS...]: until URL answers anything over HTTP.
wait_http() {
    local url=$1 seconds=$2 i
    shift 2
    for i in $(seq 1 $((seconds * 10))); do
        curl -s -o /dev/null --max-time 1 "$@" "$url" && return 0
        sleep 0.1
    done
    return 1
}

# port_free PORT: nothing listens on 127.0.0.1:PORT.
port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
