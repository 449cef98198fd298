#!/usr/bin/env bash
# SIGTERM under steady wrk load: Tether stops accepting (new connections refused), finishes what it has,
# and exits 0 within drain.timeout + 1 s; wrk sees no non-2xx response and no timeout.
# Usage: acceptance/drain.sh [--short]
source "$(dirname "$0")/lib.sh"

if [ "$SHORT" = 1 ]; then LOAD_S=3; else LOAD_S=10; fi
TIMEOUT=5
origin=$(free_port); port=$(free_port); admin=$(free_port)
start_origin "$origin"
cat >"$WORK/tether.json" <<CONF
{
  "listeners": [{ "address": "127.0.0.1:$port", "protocols": "http1" }],
  "routes": [{ "cluster": "origin" }],
  "clusters": { "origin": { "destinations": ["127.0.0.1:$origin"] } },
  "admin": { "address": "127.0.0.1:$admin" },
  "drain": { "delay": "0s", "timeout": "${TIMEOUT}s" }
}
CONF
start_tether "$WORK/tether.json" "$port" "$admin"
tether_pid="${PIDS[-1]}"

wrk -t1 -c64 -d$((LOAD_S + 2))s "http://127.0.0.1:$port/" >"$WORK/wrk.txt" 2>&1 &
wrk_pid=$!
sleep "$LOAD_S"
check "/readyz is 200 before the signal" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin/readyz")" = 200

start=$(date +%s%N)
kill -TERM "$tether_pid"
sleep 0.2
curl_rc=0; curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/" || curl_rc=$?
rc=0; wait "$tether_pid" || rc=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
wait "$wrk_pid" || true

requests=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $5}' "$WORK/wrk.txt"); non2xx=${non2xx:-0}
errors=$(grep -o 'Socket errors:.*' "$WORK/wrk.txt" || echo "Socket errors: none")
echo "wrk: $requests requests; non-2xx: $non2xx; $errors"
grep -o 'drained: .*' "$WORK/tether-$port.log" || true
check "new connections are refused after SIGTERM (curl exit $curl_rc, 7 = refused)" test "$curl_rc" = 7
check "exit code 0 (got $rc)" test "$rc" = 0
check "exit within drain.timeout + 1 s (${elapsed_ms} ms)" test "$elapsed_ms" -lt $(( (TIMEOUT + 1) * 1000 ))
check "no non-2xx response" test "$non2xx" = 0
# After the signal, wrk's reconnects are refused (connect errors: expected); a read error or timeout would
# be a request cut while in flight.
check "no read error or timeout" bash -c "! grep -Eq 'read [1-9]|timeout [1-9]' '$WORK/wrk.txt'"
finish
