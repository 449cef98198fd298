#!/usr/bin/env bash
# Slow clients against Tether, with slowhttptest: slow headers (Slowloris), slow body (R.U.D.Y.), slow read.
# For each: wrk's throughput during the attack stays >= 90% of its baseline, and every slow connection is
# closed by Tether's timers (counted in /status connections.closed) within the configured time + 1 s.
# Usage: acceptance/slowloris.sh [--short]
source "$(dirname "$0")/lib.sh"

if [ "$SHORT" = 1 ]; then CONNS=200; RATE=200; HEADERS_TIMEOUT=2; WRK_S=3; else CONNS=1000; RATE=1000; HEADERS_TIMEOUT=10; WRK_S=10; fi
GRACE=2
# minResponseRate is an average over the time a write is pending, and Linux lets ~1.6 MB per connection sit in
# the kernel's send buffer on loopback: a reader is only "slow" once its average falls below the rate, after
# roughly buffered bytes / rate. 1 MB/s makes that ~2 s here; docs/security.md has the arithmetic.
READ_RATE=1048576
origin=$(free_port); port=$(free_port); admin=$(free_port)
start_origin "$origin"
cat >"$WORK/tether.json" <<CONF
{
  "listeners": [{ "address": "127.0.0.1:$port", "protocols": "http1" }],
  "downstream": {
    "requestHeadersTimeout": "${HEADERS_TIMEOUT}s",
    "minRequestBodyRate": { "bytesPerSecond": 240, "grace": "${GRACE}s" },
    "minResponseRate": { "bytesPerSecond": $READ_RATE, "grace": "${GRACE}s" }
  },
  "routes": [{ "cluster": "origin" }],
  "clusters": { "origin": { "destinations": ["127.0.0.1:$origin"] } },
  "admin": { "address": "127.0.0.1:$admin" }
}
CONF
start_tether "$WORK/tether.json" "$port" "$admin"
wrk -t1 -c32 -d3s "http://127.0.0.1:$port/" >/dev/null 2>&1 # warm-up (tiered JIT, pool)

baseline=$(wrk_rps "$port" "$WRK_S")
echo "baseline: wrk -t1 -c32 -d${WRK_S}s = $baseline req/s"

# attack MODE REASON LIMIT_SECONDS PATH SLOWHTTPTEST_ARGS…
attack() {
  local mode="$1" reason="$2" limit="$3" path="$4"; shift 4
  local before; before=$(closed "$admin" "$reason")
  local start=$SECONDS
  local conns="${CONNS_OVERRIDE:-$CONNS}"
  slowhttptest "$@" -c "$conns" -r "$RATE" -l $((WRK_S + limit + 6)) -u "http://127.0.0.1:$port$path" -p 3 >"$WORK/slow-$mode.log" 2>&1 &
  local slow=$!; PIDS+=($slow)
  sleep 2 # let the connections open
  local during; during=$(wrk_rps "$port" "$WRK_S")
  local pct=$((during * 100 / (baseline > 0 ? baseline : 1)))
  if [ "$SHORT" = 1 ]; then
    # A throughput ratio from 3-second wrk runs, with slowhttptest, wrk, nginx and Tether sharing two cores
    # and CI building beside them, swings by +-20% (85% and 77% seen on a clean-clone CI run, 107-116% on
    # others): reported, not gating CI. The full run judges it (slow read is a known shortfall there,
    # docs/security.md#slow-read). What CI does gate is below: every slow connection closed in time.
    echo "INFO  $mode: wrk during attack $during req/s = ${pct}% of baseline $baseline (full run requires >= 90%)"
  else
    check "$mode: wrk during attack $during req/s = ${pct}% of baseline $baseline (>= 90%)" [ "$pct" -ge 90 ]
  fi

  # Every connection was open by ~1 s after the start (CONNS at RATE/s); each must be closed by
  # open time + limit + 1 s. Poll until then, then count.
  local deadline=$((start + conns / RATE + 1 + limit + 1))
  while [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  local n=$(( $(closed "$admin" "$reason") - before ))
  check "$mode: $n of $conns slow connections closed by Tether ($reason) within ${limit}s + 1s of opening" [ "$n" -ge "$conns" ]
  kill "$slow" 2>/dev/null || true; wait "$slow" 2>/dev/null || true
  [ -n "${DEBUG:-}" ] && { tail -30 "$WORK/slow-$mode.log"; status_json "$admin"; }
  return 0
}

MODES="${MODES:-headers body read}"
# Slow headers: a header line every 10 s, so only requestHeadersTimeout ends them.
[[ $MODES == *headers* ]] && attack "slow headers" slowHeaders "$HEADERS_TIMEOUT" / -H -i 10
# Slow body: Content-Length 8192, 10 bytes every 10 s, far below 240 B/s.
[[ $MODES == *body* ]] && attack "slow body" slowBody "$GRACE" / -B -i 10 -s 8192 -x 10
# Slow read: a tiny receive window, 32 bytes read every 5 s, of a 1 MiB file requested twice per connection.
# Each slow reader makes Tether fetch a megabyte and push it into a kernel buffer first (real work on two
# shared cores), so the short run uses a quarter of the connections for this one.
[ "$SHORT" = 1 ] && CONNS_OVERRIDE=$((CONNS / 4))
[[ $MODES == *read* ]] && attack "slow read" slowRead $((GRACE + 3)) /big -X -k 2 -w 32 -y 64 -n 5 -z 32

finish
