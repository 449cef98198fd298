#!/usr/bin/env bash
# Slow clients against Tether, with slowhttptest: slow headers (Slowloris), slow body (R.U.D.Y.), slow read.
# For each: wrk's throughput during the attack stays >= 90% of its baseline, and every slow connection is
# closed by Tether's timers (counted in /status connections.closed) within the configured time + 1 s.
# Usage: acceptance/slowloris.sh [--short]
source "$(dirname "$0")/lib.sh"

if [ "$SHORT" = 1 ]; then CONNS=200; RATE=200; HEADERS_TIMEOUT=2; WRK_S=3; else CONNS=1000; RATE=1000; HEADERS_TIMEOUT=10; WRK_S=10; fi
GRACE=2
# minResponseRate is an average over the time a write is pending, counting bytes handed to the kernel. Left to
# autotuning, Linux lets ~1 MB per connection sit in the send buffer of a loopback socket whose reader stalls, so
# a reader only looks slow after buffered bytes / rate, and Tether fetches that megabyte from the origin first.
# sendBufferSize 64 KiB (nginx `listen … sndbuf=64k`) caps both: at 64 KiB/s a stalled reader is caught within
# ~2 s of the grace period; docs/security.md#slow-read has the arithmetic.
READ_RATE=65536
SNDBUF=65536
origin=$(free_port); port=$(free_port); admin=$(free_port)
# The origin shares the two cores, which a real backend does not. Each slow reader's request reaches it, and with
# its send buffer autotuned nginx parks ~0.9 MB of the 1 MiB answer in its own socket (ss: 668 MB over 777
# upstream connections while 1,000 readers opened, beside 52 MB in Tether's receive queues), copying 0.7 GB on
# the cores wrk and Tether use: in 1-second windows wrk fell to 10-40 % of its rate for the first seconds of the
# attack while Tether's own CPU went down, not up. That is the backend's work and its host's memory; sndbuf=64k (nginx `listen …
# sndbuf=`, as on Tether's side) keeps it to ~150 MB. The slow readers' cost to Tether is unchanged.
start_origin "$origin" "sndbuf=64k"
cat >"$WORK/tether.json" <<CONF
{
  "listeners": [{ "address": "127.0.0.1:$port", "protocols": "http1" }],
  "downstream": {
    "requestHeadersTimeout": "${HEADERS_TIMEOUT}s",
    "sendBufferSize": $SNDBUF,
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

cap_attacker 10
echo "slowhttptest runs with $ATTACKER_CAP"
# Tether's own throughput on two shared cores moves by +-15% from one 10-second wrk run to the next (which
# core each connection's work lands on), so the full run repeats baseline-then-attack and judges the median.
# Five rounds: beside a one-core CPU hog and other sessions' work a single round swung from 69 % to 135 % (a
# baseline of 6,797 req/s followed by 9,216 during the attack), and a median of three still failed one mode
# in most runs while every slow connection was closed in time.
ROUNDS="${ROUNDS:-$([ "$SHORT" = 1 ] && echo 1 || echo 5)}"

# one_attack MODE REASON LIMIT_SECONDS PATH SLOWHTTPTEST_ARGS…: a fresh baseline, then wrk during the attack;
# prints "PERCENT CLOSED DURING BASELINE".
# The baseline runs beside a busy loop in the attacker's cgroup: slowhttptest spins at its cap for the whole attack
# whatever its connections do, so the loop stands in for that CPU and the ratio compares Tether with and without
# the attack's connections, not with and without the tool's spinning. It matters on a busy machine: with one core
# taken by another load, the 10 % cap is about a tenth of what is left for wrk, Tether and nginx (slow read, full
# run beside a one-core hog: medians 81-86 % before, the slow connections all closed in time).
one_attack() {
  local mode="$1" reason="$2" limit="$3" path="$4"; shift 4
  # Started as one process that joins the cgroup and execs the loop, so that $! is the loop itself (a function
  # such as `attacker` run with & would be a subshell, and killing it would leave the loop spinning).
  bash -c '[ -n "$0" ] && echo $$ >"$0"; exec bash -c "while :; do :; done"' "$ATTACKER_PROCS" >/dev/null 2>&1 &
  local spin=$!
  local baseline; baseline=$(wrk_rps "$port" "$WRK_S")
  kill "$spin"; wait "$spin" 2>/dev/null || true
  local before; before=$(closed "$admin" "$reason")
  local accepted0; accepted0=$(accepted "$admin")
  local start_ms; start_ms=$(now_ms)
  attacker slowhttptest "$@" -c "$conns" -r "$RATE" -l $((WRK_S + limit + 6)) -u "http://127.0.0.1:$port$path" -p 3 >"$WORK/slow-$mode.log" 2>&1 &
  local slow=$!; PIDS+=($slow)
  # Each connection must be closed by its open time + limit + 1 s. The attacker is capped at 10 % of a core, and on
  # a busy machine it opens its connections later than CONNS/RATE s: the deadline follows the last one Tether
  # accepted (polled every 0.1 s, before wrk adds its own), or 10 s after the start if they never all come.
  local opened_ms=""
  while [ -z "$opened_ms" ]; do
    if [ $(( $(accepted "$admin") - accepted0 )) -ge "$conns" ] || [ $(( $(now_ms) - start_ms )) -ge 10000 ]; then opened_ms=$(now_ms); fi
    [ -z "$opened_ms" ] && sleep 0.1
  done
  local open_s; open_s=$(( (opened_ms - start_ms) / 100 )) # tenths of a second
  [ $(( $(now_ms) - start_ms )) -lt 2000 ] && sleep 2 # as before: wrk starts 2 s after the attack
  local during; during=$(wrk_rps "$port" "$WRK_S")
  local deadline_ms=$((opened_ms + (limit + 1) * 1000))
  while [ "$(now_ms)" -lt "$deadline_ms" ]; do sleep 0.2; done
  local n=$(( $(closed "$admin" "$reason") - before ))
  kill "$slow" 2>/dev/null || true; wait "$slow" 2>/dev/null || true
  [ -n "${DEBUG:-}" ] && { tail -30 "$WORK/slow-$mode.log" >&2; status_json "$admin" >&2; }
  echo "$((during * 100 / (baseline > 0 ? baseline : 1))) $n $during $baseline $((open_s / 10)).$((open_s % 10))"
}

# attack MODE REASON LIMIT_SECONDS PATH SLOWHTTPTEST_ARGS…
attack() {
  local mode="$1" reason="$2" limit="$3"
  local conns="${CONNS_OVERRIDE:-$CONNS}"
  local pcts=() fewest=$conns r result pct n during baseline open_s
  for r in $(seq "$ROUNDS"); do
    result=$(one_attack "$@")
    read -r pct n during baseline open_s <<<"$result"
    echo "  $mode round $r: baseline $baseline req/s, during attack $during req/s = ${pct}%; $n of $conns closed in time (all open after ${open_s}s)"
    pcts+=("$pct"); [ "$n" -lt "$fewest" ] && fewest=$n
  done
  local median; median=$(printf '%s\n' "${pcts[@]}" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
  if [ "$SHORT" = 1 ]; then
    # A throughput ratio from one 3-second wrk run, with slowhttptest, wrk, nginx and Tether sharing two cores
    # and CI building beside them, swings by +-20%: reported, not gating CI. The full run judges the median of
    # three. What CI does gate is below: every slow connection closed in time.
    echo "INFO  $mode: wrk during attack = ${median}% of baseline (full run requires >= 90%)"
  else
    check "$mode: wrk during attack, median of $ROUNDS rounds = ${median}% of baseline (>= 90%)" [ "$median" -ge 90 ]
  fi
  check "$mode: every round, $fewest of $conns slow connections closed by Tether ($reason) within ${limit}s + 1s of the last one opening" [ "$fewest" -ge "$conns" ]
  return 0
}

MODES="${MODES:-headers body read}"
# Slow headers: a header line every 10 s, so only requestHeadersTimeout ends them.
[[ $MODES == *headers* ]] && attack "slow headers" slowHeaders "$HEADERS_TIMEOUT" / -H -i 10
# Slow body: Content-Length 8192, 10 bytes every 10 s, far below 240 B/s.
[[ $MODES == *body* ]] && attack "slow body" slowBody "$GRACE" / -B -i 10 -s 8192 -x 10
# Slow read: a tiny receive window, 32 bytes read every 5 s, of a 1 MiB file requested twice per connection.
# Each slow reader makes Tether fetch from the origin what fits in sendBufferSize and its socket buffers first
# (real work on two shared cores), so the short run uses a quarter of the connections for this one.
[ "$SHORT" = 1 ] && CONNS_OVERRIDE=$((CONNS / 4))
[[ $MODES == *read* ]] && attack "slow read" slowRead $((GRACE + 3)) /big -X -k 2 -w 32 -y 64 -n 5 -z 32

finish
