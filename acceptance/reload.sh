#!/usr/bin/env bash
# 20 reloads under steady wrk load, valid and invalid mixed (POST /reload, and SIGHUP): no failed request;
# each invalid config is rejected and the previous one keeps serving.
# Usage: acceptance/reload.sh [--short]
source "$(dirname "$0")/lib.sh"

RELOADS=20
if [ "$SHORT" = 1 ]; then PAUSE=0.1; else PAUSE=0.5; fi
a=$(free_port); b=$(free_port); port=$(free_port); admin=$(free_port)
start_origin "$a"
start_origin "$b"
config() { # config DESTINATIONS_JSON [EXTRA_POOL_JSON]
  cat >"$WORK/tether.json" <<CONF
{
  "listeners": [{ "address": "127.0.0.1:$port", "protocols": "http1" }],
  "routes": [{ "cluster": "origin" }],
  "clusters": { "origin": { "destinations": $1, "pool": { ${2:-} } } },
  "admin": { "address": "127.0.0.1:$admin" },
  "recycle": { "window": "2s" }
}
CONF
}
config "[\"127.0.0.1:$a\"]"
start_tether "$WORK/tether.json" "$port" "$admin"
tether_pid="${PIDS[-1]}"

duration=$(python3 -c "print(int($RELOADS * ($PAUSE + 0.1) + 3))")
wrk -t1 -c32 -d"${duration}s" "http://127.0.0.1:$port/" >"$WORK/wrk.txt" 2>&1 &
wrk_pid=$!
sleep 1
ok_count=0; rejected=0; wrong=0
for i in $(seq 1 $RELOADS); do
  if [ $((i % 3)) = 0 ]; then
    config "[\"127.0.0.1:$a\", \"127.0.0.1:$b\"]" '"idleTimeout": "soon"'; want=false
  elif [ $((i % 2)) = 0 ]; then
    config "[\"127.0.0.1:$a\", \"127.0.0.1:$b\"]"; want=true
  else
    config "[\"127.0.0.1:$a\"]"; want=true
  fi
  if [ $((i % 5)) = 0 ]; then
    kill -HUP "$tether_pid"; sleep 0.2
    got=$(status_json "$admin" | python3 -c "import json,sys; print(str(json.load(sys.stdin)['lastReload']['ok']).lower())")
  else
    got=$(curl -s -X POST "http://127.0.0.1:$admin/reload" | python3 -c "import json,sys; print(str(json.load(sys.stdin)['ok']).lower())")
  fi
  [ "$got" = "$want" ] || { wrong=$((wrong + 1)); echo "reload $i: ok=$got, expected $want"; }
  [ "$got" = true ] && ok_count=$((ok_count + 1)) || rejected=$((rejected + 1))
  # The previous config keeps serving after a rejected one.
  [ "$(curl -s "http://127.0.0.1:$port/")" = ok ] || wrong=$((wrong + 1))
  sleep "$PAUSE"
done
wait "$wrk_pid" || true

requests=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $5}' "$WORK/wrk.txt"); non2xx=${non2xx:-0}
errors=$(grep -o 'Socket errors:.*' "$WORK/wrk.txt" || echo "Socket errors: none")
echo "reloads: $ok_count applied, $rejected rejected; wrk: $requests requests; non-2xx: $non2xx; $errors"
check "every reload applied or rejected as expected, old config serving after rejections" test "$wrong" = 0
check "no non-2xx response during $RELOADS reloads" test "$non2xx" = 0
check "no socket error during $RELOADS reloads" bash -c "! grep -q 'Socket errors' '$WORK/wrk.txt'"
check "both origins served" test "$(wc -l <"$WORK/nginx-$b/logs/access.log")" -gt 0
finish
