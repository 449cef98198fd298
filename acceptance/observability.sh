#!/usr/bin/env bash
# The operator's view (issue 14): /metrics after real traffic (successes, a 404, 502s, retries) passes
# `promtool check metrics` with nothing to say; the JSON access log has one line per request, or counts what
# it dropped; SIGUSR1 reopens the log file after it was moved away (logrotate).
# Usage: acceptance/observability.sh [--short]
source "$(dirname "$0")/lib.sh"

if [ "$SHORT" = 1 ]; then SECONDS_OF_LOAD=2; else SECONDS_OF_LOAD=10; fi
a=$(free_port); dead=$(free_port); port=$(free_port); admin=$(free_port)
start_origin "$a"
log="$WORK/access.log"
cat >"$WORK/tether.json" <<CONF
{
  "listeners": [{ "address": "127.0.0.1:$port", "protocols": "http1" }],
  "routes": [
    { "match": { "pathPrefix": "/dead" }, "cluster": "dead" },
    { "match": { "pathPrefix": "/retry" }, "cluster": "retry" },
    { "match": { "host": "127.0.0.1" }, "cluster": "origin" }
  ],
  "clusters": {
    "origin": { "destinations": ["127.0.0.1:$a"] },
    "dead": { "destinations": ["127.0.0.1:$dead"] },
    "retry": { "destinations": ["127.0.0.1:$dead", "127.0.0.1:$a"], "loadBalancing": "roundRobin",
               "healthCheck": { "passive": { "consecutiveFailures": 0 } } }
  },
  "admin": { "address": "127.0.0.1:$admin" },
  "accessLog": { "path": "$log", "format": "json" }
}
CONF
start_tether "$WORK/tether.json" "$port" "$admin"
tether_pid="${PIDS[-1]}"

wrk -t1 -c16 -d"${SECONDS_OF_LOAD}s" "http://127.0.0.1:$port/" >"$WORK/wrk.txt" 2>&1
requests=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
for path in /dead/a /dead/b /retry/a /retry/b /retry/c /retry/d; do curl -s -o /dev/null "http://127.0.0.1:$port$path"; done
curl -s -o /dev/null -H "Host: elsewhere" "http://127.0.0.1:$port/none"
sleep 1
# What Tether received (wrk counts only the responses it read before its time was up).
total=$(status_json "$admin" | python3 -c "import json,sys; print(json.load(sys.stdin)['requests']['total'])")

curl -s "http://127.0.0.1:$admin/metrics" >"$WORK/metrics.txt"
if command -v promtool >/dev/null; then
  promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.txt" 2>&1 && rc=0 || rc=$?
  echo "promtool check metrics: exit $rc, $(wc -l <"$WORK/promtool.txt") line(s) of complaints"
  cat "$WORK/promtool.txt"
  check "promtool check metrics finds nothing to complain about" test "$rc" = 0 -a ! -s "$WORK/promtool.txt"
else
  fail "promtool is not installed (Debian package prometheus; .ci/run installs it)"
fi
check "/metrics has the request-duration histogram" grep -q '^tether_request_duration_seconds_bucket{cluster="origin",route="127.0.0.1/",method="GET",status_class="2xx",le="+Inf"}' "$WORK/metrics.txt"
check "/metrics has process and build figures" bash -c "grep -q '^process_cpu_seconds_total ' '$WORK/metrics.txt' && grep -q '^tether_build_info{' '$WORK/metrics.txt'"

lines=$(wc -l <"$log")
dropped=$(status_json "$admin" | python3 -c "import json,sys; a=json.load(sys.stdin)['accessLog']; print(a['dropped'] + a['failed'])")
echo "access log: $lines line(s) for $total request(s) ($requests by wrk), $dropped dropped"
check "one access-log line per request, or counted as dropped" test $((lines + dropped)) = "$total"
check "the 502s name their phase" test "$(grep -c '"status":502,.*"errorPhase":"connect","errorCause":"refused"' "$log")" = 2
check "a retried request shows its retry" test "$(grep -c '"cluster":"retry".*"retries":1' "$log")" = 2
check "the 404 is logged" grep -q '"path":"/none","protocol":"HTTP/1.1","status":404' "$log"

mv "$log" "$log.1"
kill -USR1 "$tether_pid"
sleep 0.5
curl -s -o /dev/null "http://127.0.0.1:$port/after-rotate"
sleep 0.5
check "SIGUSR1 reopened the log: the next line is in a new file" grep -q '"path":"/after-rotate"' "$log"
check "tether is still running after SIGUSR1" kill -0 "$tether_pid"
finish
