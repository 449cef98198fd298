# Shared helpers for the acceptance scripts: build Tether once, start nginx/Tether/HAProxy in a scratch
# folder, stop everything on exit, print PASS/FAIL with figures. Sourced, not run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHORT=0
for arg in "$@"; do [ "$arg" = "--short" ] && SHORT=1; done
WORK="$(mktemp -d /tmp/tether-acceptance.XXXXXX)"
chmod 755 "$WORK" # nginx workers (nobody) read the files served from here
PIDS=()
FAILED=0

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Each process gets its own descriptor limit: 1,000 slow connections need more than the usual 1,024.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

pass() { echo "PASS  $*"; }
fail() { echo "FAIL  $*"; FAILED=1; }
check() { # check "<description>" <condition command…>
  local what="$1"; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
finish() { exit "$FAILED"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() { # wait_port PORT [seconds]
  local deadline=$((SECONDS + ${2:-20}))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    [ $SECONDS -ge $deadline ] && { echo "port $1 did not open" >&2; return 1; }
    sleep 0.1
  done
}

# The published binary: $TETHER_BIN if run.sh built it already, else built here once.
tether_bin() {
  if [ -n "${TETHER_BIN:-}" ] && [ -x "$TETHER_BIN" ]; then echo "$TETHER_BIN"; return; fi
  local out="$WORK/publish"
  dotnet publish "$ROOT/src/Tether" -c Release -o "$out" --nologo -v quiet >"$WORK/publish.log" 2>&1 \
    || { cat "$WORK/publish.log" >&2; return 1; }
  echo "$out/tether"
}

# start_origin PORT [LISTEN_OPTIONS]: nginx answering "ok" (and /big: a 1 MiB file), logging every request it sees.
# LISTEN_OPTIONS go on its listen line (e.g. "sndbuf=64k").
start_origin() {
  local port="$1" options="${2:-}" dir="$WORK/nginx-$1"
  mkdir -p "$dir/logs" "$dir/html"
  head -c $((1024 * 1024)) /dev/zero >"$dir/html/big"
  cat >"$dir/nginx.conf" <<CONF
daemon off;
worker_processes 1;
error_log $dir/logs/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 8192; }
http {
  access_log $dir/logs/access.log;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:$port $options;
    root $dir/html;
    location = /big { }
    location / { return 200 "ok\n"; }
  }
}
CONF
  nginx -c "$dir/nginx.conf" -p "$dir" &
  PIDS+=($!)
  wait_port "$port"
  ORIGIN_LOG="$dir/logs/access.log"
}

# start_tether CONFIG_FILE PORT ADMIN_PORT
start_tether() {
  local bin; bin="$(tether_bin)"
  "$bin" run --config "$1" >"$WORK/tether-$2.log" 2>&1 &
  PIDS+=($!)
  wait_port "$2" 30
  wait_port "$3" 30
}

status_json() { curl -s "http://127.0.0.1:$1/status"; }
now_ms() { date +%s%3N; }
accepted() { # accepted ADMIN_PORT: client connections Tether has accepted since it started
  status_json "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['connections']['accepted'])"
}
closed() { # closed ADMIN_PORT REASON
  status_json "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['connections']['closed']['$2'])"
}
origin_requests() { [ -f "$ORIGIN_LOG" ] && wc -l <"$ORIGIN_LOG" || echo 0; }

# cap_attacker PERCENT: make a cgroup that holds a process to PERCENT of one core (cgroup v1 cpu quota or v2
# cpu.max), when this machine lets us; ATTACKER_CAP says what was done. Then `attacker COMMAND…` runs in it.
# An attack tool on the proxy's own two cores is not how attacks arrive: slowhttptest busy-polls its sockets
# (strace: ~4,700 poll() calls/s over 1,000 fds, a whole core, still after every connection is gone), and the
# proxy's throughput would be judged against the tool's CPU rather than against the attack's cost.
ATTACKER_CAP="unconstrained (no writable cgroup on this machine)"
ATTACKER_PROCS=""
cap_attacker() {
  local percent=$1 v1=/sys/fs/cgroup/cpu/tether-acceptance v2=/sys/fs/cgroup/tether-acceptance
  if { [ -d "$v1" ] || mkdir "$v1" 2>/dev/null; } && echo 100000 >"$v1/cpu.cfs_period_us" 2>/dev/null \
    && echo $((percent * 1000)) >"$v1/cpu.cfs_quota_us" 2>/dev/null; then
    ATTACKER_PROCS="$v1/cgroup.procs"; ATTACKER_CAP="${percent}% of one core (cgroup v1 cpu quota)"
  elif { [ -d "$v2" ] || mkdir "$v2" 2>/dev/null; } && echo "$((percent * 1000)) 100000" >"$v2/cpu.max" 2>/dev/null; then
    ATTACKER_PROCS="$v2/cgroup.procs"; ATTACKER_CAP="${percent}% of one core (cgroup v2 cpu.max)"
  fi
}
attacker() {
  if [ -n "$ATTACKER_PROCS" ]; then bash -c 'echo $$ >"$0" && exec "$@"' "$ATTACKER_PROCS" "$@"; else "$@"; fi
}

# wrk_rps PORT SECONDS: requests/s of wrk -t1 -c32 through Tether.
wrk_rps() {
  wrk -t1 -c32 -d"$2"s "http://127.0.0.1:$1/" 2>&1 | awk '/Requests\/sec/ {printf "%d", $2}'
}
