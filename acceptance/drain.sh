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
# Beside wrk, a client that timestamps every request: the issue's criterion is about requests started
# before the signal, which wrk's error counts cannot tell apart from its reconnects after it.
python3 "$(dirname "$0")/tools/keepalive_load.py" --port "$port" --conns 16 --seconds $((LOAD_S + 2)) --out "$WORK/ka.json" &
ka_pid=$!
sleep "$LOAD_S"
check "/readyz is 200 before the signal" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin/readyz")" = 200

start=$(date +%s%N)
signal_ns=$start
kill -TERM "$tether_pid"
sleep 0.2
curl_rc=0; curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/" || curl_rc=$?
rc=0; wait "$tether_pid" || rc=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
wait "$wrk_pid" || true
wait "$ka_pid" || true

requests=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $5}' "$WORK/wrk.txt"); non2xx=${non2xx:-0}
errors=$(grep -o 'Socket errors:.*' "$WORK/wrk.txt" || echo "Socket errors: none")
echo "wrk: $requests requests; non-2xx: $non2xx; $errors"
grep -o 'drained: .*' "$WORK/tether-$port.log" || true
check "new connections are refused after SIGTERM (curl exit $curl_rc, 7 = refused)" test "$curl_rc" = 7
check "exit code 0 (got $rc)" test "$rc" = 0
check "exit within drain.timeout + 1 s (${elapsed_ms} ms)" test "$elapsed_ms" -lt $(( (TIMEOUT + 1) * 1000 ))
check "no non-2xx response" test "$non2xx" = 0
check "no wrk timeout" bash -c "! grep -Eq 'timeout [1-9]' '$WORK/wrk.txt'"
read -r ka_ok ka_before ka_after < <(python3 -c "
import json,sys; r=json.load(open('$WORK/ka.json')); s=$signal_ns
b=[f for f in r['failures'] if f[0] < s]; print(r['ok'], len(b), len(r['failures'])-len(b))")
echo "timestamped client: $ka_ok ok; failed: $ka_before started before the signal, $ka_after after"
check "no failed request among those started before the signal ($ka_before)" test "$ka_before" = 0
check "the timestamped client really ran (ok: $ka_ok)" test "$ka_ok" -gt 100
# wrk's read errors are requests cut in flight; after the signal they come from its reconnects racing the
# listener stop (started after the signal, which the issue allows), so they are shown, not judged.
echo "INFO  wrk read errors (requests in flight when a connection closed, before or after the signal): $(grep -o 'read [0-9]\+' "$WORK/wrk.txt" || echo 'read 0')"
finish
