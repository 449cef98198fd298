#!/usr/bin/env bash
# A fleet of Tethers on one machine, in network namespaces (issue 17): an L4 balancer (HAProxy, TCP mode,
# send-proxy-v2, health check on /readyz) in front of two Tether replicas that take their config from etcd
# (--config etcd://…) and their backends from etcd (destinationsFrom, leases) and from DNS (dnsmasq, TTL 1 s);
# three nginx backends, one of them behind a user-space delay relay (the kernel has no netem); a client
# namespace running a steady keep-alive load that remembers every request. Under that load, one event per
# phase: a backend added and removed through etcd, added and removed through DNS, a config change through etcd,
# a backend's flows silently dropped (iptables DROP of established and INVALID packets in its namespace), a
# replica drained (SIGTERM, drain.delay; the balancer's health check takes it out). Prints a table of failed
# requests per event, the time both replicas took to follow each change, and the drop's detection time against
# the configured bound (readIdleTimeout).
# Usage: acceptance/fleet.sh [--short]   (root; without network namespaces it prints SKIP and exits 0)
# --short: 4 s phases instead of 15 s (about 2 minutes); it judges failed requests, that every change was followed
# and the drop's detection bound, and prints the follow times without judging the 1 s target.
source "$(dirname "$0")/lib.sh"

if [ "$SHORT" = 1 ]; then PHASE_S=4; else PHASE_S=15; fi
READ_IDLE_MS=1000      # clusters' readIdleTimeout: the detection bound of a silent drop
DRAIN_DELAY_S=3        # drain.delay: the balancer (check every 300 ms, fall 2, 1 s check timeout) has time to notice
NET=10.217.0           # a /24 that only exists inside the namespaces
PORT=42480; ADMIN=42481; BACKEND=42482; ORIGIN=42487; ETCD=42483; ETCD_PEER=42484; LB=42485; DNS=42486
ID=$(( $$ % 10000 ))
NS=()

skip() { echo "SKIP  fleet: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
for tool in ip iptables haproxy nginx etcd etcdctl dnsmasq python3 curl; do
  command -v "$tool" >/dev/null || skip "$tool is not installed"
done
if ! out=$(ip netns add "tfl-$ID-probe" 2>&1); then skip "cannot create a network namespace: $out"; fi
ip netns del "tfl-$ID-probe"
if ! out=$(ip netns add "tfl-$ID-probe" && ip netns exec "tfl-$ID-probe" iptables -A INPUT -m conntrack --ctstate INVALID -j DROP 2>&1); then
  ip netns del "tfl-$ID-probe" 2>/dev/null; skip "iptables with conntrack does not work in a namespace: $out"
fi
ip netns del "tfl-$ID-probe"

fleet_cleanup() {
  cleanup_namespaces
  cleanup
}
cleanup_namespaces() {
  local ns pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
  for ns in "${NS[@]}"; do
    # Whatever still runs in a namespace of ours was started by this script (nginx workers, say).
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  NS=()
}
trap fleet_cleanup EXIT
trap 'exit 143' TERM INT
trap 'echo "FAIL  fleet.sh line $LINENO: \"$BASH_COMMAND\" exited with $?" >&2' ERR

in_ns() { local n="$1"; shift; ip netns exec "tfl-$ID-$n" "$@"; }
# spawn NODE COMMAND… &: the background subshell becomes the command (exec), so $! is its PID to signal and stop.
spawn() { local n="$1"; shift; exec ip netns exec "tfl-$ID-$n" "$@"; }
ms() { date +%s%3N; }

# One bridge in its own namespace, every node joined to it by a veth pair: nothing is created in the root namespace.
declare -A ADDR=([lb]=2 [etcd]=3 [dns]=4 [cli]=5 [t1]=11 [t2]=12 [b1]=21 [b2]=22 [b3]=23)
ip netns add "tfl-$ID-sw"; NS+=("tfl-$ID-sw")
ip -n "tfl-$ID-sw" link add tflbr type bridge
ip -n "tfl-$ID-sw" link set tflbr up
for node in "${!ADDR[@]}"; do
  ns="tfl-$ID-$node"
  ip netns add "$ns"; NS+=("$ns")
  ip link add "tfl$ID${node}a" netns "$ns" type veth peer name "tfl$ID${node}b" netns "tfl-$ID-sw"
  ip -n "tfl-$ID-sw" link set "tfl$ID${node}b" master tflbr up
  ip -n "$ns" addr add "$NET.${ADDR[$node]}/24" dev "tfl$ID${node}a"
  ip -n "$ns" link set "tfl$ID${node}a" up
  ip -n "$ns" link set lo up
done
addr() { echo "$NET.${ADDR[$1]}"; }

wait_tcp() { # wait_tcp NODE ADDRESS PORT [seconds]: from NODE's namespace
  local deadline=$((SECONDS + ${4:-30}))
  until in_ns "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; do
    [ $SECONDS -ge $deadline ] && { echo "$2:$3 did not open (from $1)" >&2; return 1; }
    sleep 0.1
  done
}

# --- backends: nginx answering its own name; b2 behind the delay relay (30 ms each way) ---
for b in b1 b2 b3; do
  dir="$WORK/$b"; mkdir -p "$dir/logs"
  listen="$(addr $b):$BACKEND"; [ "$b" = b2 ] && listen="127.0.0.1:$ORIGIN"
  cat >"$dir/nginx.conf" <<CONF
daemon off;
worker_processes 1;
error_log $dir/logs/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000;
  keepalive_timeout 120s;
  server { listen $listen; location / { return 200 "$b\n"; } }
}
CONF
  spawn "$b" nginx -c "$dir/nginx.conf" -p "$dir" & PIDS+=($!)
done
spawn b2 python3 "$ROOT/acceptance/tools/delay_relay.py" --listen "$(addr b2):$BACKEND" --to "127.0.0.1:$ORIGIN" --delay-ms 30 \
  2>"$WORK/relay.log" & PIDS+=($!)

# --- etcd and dnsmasq ---
spawn etcd etcd --name f --data-dir "$WORK/etcd" --log-level error \
  --listen-client-urls "http://$(addr etcd):$ETCD" --advertise-client-urls "http://$(addr etcd):$ETCD" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
  --initial-cluster "f=http://127.0.0.1:$ETCD_PEER" >"$WORK/etcd.log" 2>&1 & PIDS+=($!)
printf '%s app.fleet.test\n%s app.fleet.test\n' "$(addr b1)" "$(addr b2)" >"$WORK/hosts"
spawn dns dnsmasq --no-daemon --no-resolv --no-hosts --conf-file=/dev/null --pid-file= --user=root \
  --port="$DNS" --listen-address="$(addr dns)" --bind-interfaces --local-ttl=1 --addn-hosts="$WORK/hosts" \
  >"$WORK/dnsmasq.log" 2>&1 & PIDS+=($!)
DNSMASQ_PID=$!
ETCDCTL=(in_ns cli etcdctl --endpoints="http://$(addr etcd):$ETCD" --dial-timeout=10s --command-timeout=30s)
deadline=$((SECONDS + 30))
until "${ETCDCTL[@]}" endpoint health >/dev/null 2>&1; do
  [ $SECONDS -ge $deadline ] && { cat "$WORK/etcd.log"; fail "etcd did not start"; finish; }
  sleep 0.2
done
for b in b1 b2 b3; do wait_tcp cli "$(addr $b)" "$BACKEND"; done

# --- the config, in etcd; b1 and b2 register with leases kept alive (as backends would) ---
config() { # config GENERATION
  cat <<CONF
{
  "listeners": [{ "address": "0.0.0.0:$PORT", "protocols": "http1",
    "proxyProtocol": { "mode": "required", "trustedNetworks": ["$(addr lb)"] } }],
  "admin": { "address": "0.0.0.0:$ADMIN" },
  "drain": { "delay": "${DRAIN_DELAY_S}s", "timeout": "5s" },
  "dns": { "servers": ["$(addr dns):$DNS"] },
  "etcd": { "endpoints": ["$(addr etcd):$ETCD"] },
  "routes": [
    { "match": { "pathPrefix": "/generation" }, "respond": { "status": 200, "body": "$1" } },
    { "match": { "pathPrefix": "/dns" }, "cluster": "dns" },
    { "cluster": "reg" }
  ],
  "clusters": {
    "reg": { "destinationsFrom": { "etcd": "/fleet/backends/" }, "loadBalancing": "roundRobin",
      "pool": { "connectTimeout": "1s" }, "readIdleTimeout": "${READ_IDLE_MS}ms", "tcpUserTimeout": "2s" },
    "dns": { "destinations": ["app.fleet.test:$BACKEND"], "loadBalancing": "roundRobin",
      "resolveInterval": "30s", "resolveMinInterval": "200ms",
      "pool": { "connectTimeout": "1s" }, "readIdleTimeout": "${READ_IDLE_MS}ms", "tcpUserTimeout": "2s" }
  }
}
CONF
}
config 1 >"$WORK/config-1.json"
config 2 >"$WORK/config-2.json"
"${ETCDCTL[@]}" put /fleet/config <"$WORK/config-1.json" >/dev/null
declare -A LEASE # hexadecimal, as etcdctl prints it; the JSON gateway takes it in decimal
for b in b1 b2 b3; do
  LEASE[$b]=$("${ETCDCTL[@]}" lease grant 5 | awk '{print $2}')
  spawn cli etcdctl --endpoints="http://$(addr etcd):$ETCD" lease keep-alive "${LEASE[$b]}" >/dev/null 2>&1 & PIDS+=($!)
done
for b in b1 b2; do "${ETCDCTL[@]}" put "/fleet/backends/$b" "$(addr $b):$BACKEND" --lease="${LEASE[$b]}" >/dev/null; done

# --- two replicas and the balancer ---
bin="$(tether_bin)"
declare -A TETHER_PID
for t in t1 t2; do
  spawn "$t" "$bin" run --config "etcd://$(addr etcd):$ETCD/fleet" >"$WORK/$t.log" 2>&1 & PIDS+=($!)
  TETHER_PID[$t]=$!
done
for t in t1 t2; do
  deadline=$((SECONDS + 180)) # a .NET start on a busy 2-core machine at nice 19 has taken over a minute
  until in_ns cli bash -c "exec 3<>/dev/tcp/$(addr $t)/$ADMIN" 2>/dev/null; do
    if ! kill -0 "${TETHER_PID[$t]}" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      cat "$WORK/$t.log"; fail "$t did not start"; finish
    fi
    sleep 0.2
  done
done
cat >"$WORK/haproxy.cfg" <<CONF
global
  maxconn 4096
defaults
  mode tcp
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  retries 3
  option redispatch
frontend fleet
  bind $(addr lb):$LB
  default_backend tethers
backend tethers
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  timeout check 1s
  default-server send-proxy-v2 check port $ADMIN inter 300ms fall 2 rise 2
  server t1 $(addr t1):$PORT
  server t2 $(addr t2):$PORT
CONF
spawn lb haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 & PIDS+=($!)
wait_tcp cli "$(addr lb)" "$LB"
ADMINS="http://$(addr t1):$ADMIN,http://$(addr t2):$ADMIN"
ETCD_URL="http://$(addr etcd):$ETCD"
b64() { printf %s "$1" | base64 -w0; }
etcd_api() { in_ns cli curl -sf --max-time 30 -X POST "$ETCD_URL$1" -d "$2"; } # etcd's JSON gateway: curl starts faster than etcdctl
lists() { # lists CLUSTER NAME: every replica lists NAME among CLUSTER's destinations
  local admin
  for admin in ${ADMINS//,/ }; do
    in_ns cli curl -s "$admin/status" | python3 -c "import json,sys; sys.exit(0 if sys.argv[2] in json.load(sys.stdin)['clusters'][sys.argv[1]]['destinations'] else 1)" "$1" "$2" || return 1
  done
}
deadline=$((SECONDS + 30))
until lists reg "$(addr b2):$BACKEND" && lists dns "$(addr b2):$BACKEND"; do
  [ $SECONDS -ge $deadline ] && { fail "the replicas did not list b1 and b2 within 30 s"; finish; }
  sleep 0.2
done
for t in t1 t2; do
  [ "$(in_ns cli curl -s -o /dev/null -w '%{http_code}' "http://$(addr $t):$ADMIN/readyz")" = 200 ] || fail "$t is not ready"
done

# --- the watcher, the load, and one event per phase ---
spawn cli python3 "$ROOT/acceptance/tools/fleet_watch.py" --admins "$ADMINS" --out "$WORK/watch.jsonl" & watch_pid=$!
PIDS+=($watch_pid)
EVENTS="$WORK/events"; : >"$EVENTS"; : >"$WORK/changes"
phase() { echo "$1 $(ms)" >>"$EVENTS"; }           # phase NAME: the phase starts now
change() { echo "$1 $2 $3 $4" >>"$WORK/changes"; } # change NAME AT_MS KIND ARG: what both replicas must come to show
spawn cli python3 "$ROOT/acceptance/tools/fleet_load.py" --host "$(addr lb)" --port "$LB" --paths /reg,/dns \
  --conns 16 --close-conns 2 --out "$WORK/load.json" & load_pid=$!
PIDS+=($load_pid)
sleep 1
phase warmup; sleep "$PHASE_S"
phase steady; sleep "$PHASE_S"

phase etcd-add; at=$(ms)
etcd_api /v3/kv/put "{\"key\":\"$(b64 /fleet/backends/b3)\",\"value\":\"$(b64 "$(addr b3):$BACKEND")\",\"lease\":\"$((16#${LEASE[b3]}))\"}" >/dev/null
change etcd-add "$at" present "reg:$(addr b3):$BACKEND"; sleep "$PHASE_S"
phase etcd-remove; at=$(ms)
etcd_api /v3/lease/revoke "{\"ID\":\"$((16#${LEASE[b1]}))\"}" >/dev/null # b1 deregisters: its key goes with its lease
change etcd-remove "$at" absent "reg:$(addr b1):$BACKEND"; sleep "$PHASE_S"

phase dns-add; at=$(ms)
printf '%s app.fleet.test\n%s app.fleet.test\n%s app.fleet.test\n' "$(addr b1)" "$(addr b2)" "$(addr b3)" >"$WORK/hosts"
kill -HUP "$DNSMASQ_PID"
change dns-add "$at" present "dns:$(addr b3):$BACKEND"; sleep "$PHASE_S"
phase dns-remove; at=$(ms)
printf '%s app.fleet.test\n%s app.fleet.test\n' "$(addr b2)" "$(addr b3)" >"$WORK/hosts"
kill -HUP "$DNSMASQ_PID"
change dns-remove "$at" absent "dns:$(addr b1):$BACKEND"; sleep "$PHASE_S"

phase config-change; at=$(ms)
revision=$(etcd_api /v3/kv/put "{\"key\":\"$(b64 /fleet/config)\",\"value\":\"$(base64 -w0 <"$WORK/config-2.json")\"}" \
  | python3 -c "import json,sys; print(json.load(sys.stdin)['header']['revision'])")
change config-change "$at" revision "$revision"; sleep "$PHASE_S"

# The silent drop: b2's flows on its service port vanish, as in a NAT or firewall that forgot them.
drop_rules() { # drop_rules -I|-D
  in_ns b2 iptables "$1" INPUT -p tcp --dport "$BACKEND" -m conntrack --ctstate ESTABLISHED,INVALID -j DROP
  in_ns b2 iptables "$1" OUTPUT -p tcp --sport "$BACKEND" -m conntrack --ctstate ESTABLISHED,INVALID -j DROP
}
phase silent-drop; DROP_MS=$(ms); drop_rules -I
sleep "$PHASE_S"; sleep 1
phase after-drop; drop_rules -D
sleep "$PHASE_S"

phase drain; DRAIN_MS=$(ms)
kill -TERM "${TETHER_PID[t1]}"
drain_rc=0; wait "${TETHER_PID[t1]}" || drain_rc=$?
DRAIN_EXIT_MS=$(( $(ms) - DRAIN_MS ))
sleep 2
phase end
kill -TERM "$load_pid" "$watch_pid"; wait "$load_pid" || true; wait "$watch_pid" || true

# --- figures ---
report=$(python3 - "$WORK" "$DROP_MS" "$(addr b2):$BACKEND" <<'PY'
import json, sys, datetime
work, drop_ms, dropped = sys.argv[1], int(sys.argv[2]), sys.argv[3]
load = json.load(open(f"{work}/load.json"))["requests"]
events = [(n, int(t)) for n, t in (l.split() for l in open(f"{work}/events"))]
watch = [json.loads(l) for l in open(f"{work}/watch.jsonl")]

def follow(at, kind, arg):
    # The first watched state after the change, per replica, that shows it; the slower replica is the figure.
    times = []
    for replica in (0, 1):
        hit = None
        for w in watch:
            if w["replica"] != replica or w["t"] < at:
                continue
            if kind == "revision":
                ok = (w["revision"] or 0) >= int(arg)
            else:
                cluster, name = arg.split(":", 1)
                ok = (name in w["clusters"].get(cluster, [])) == (kind == "present")
            if ok:
                hit = w["t"] - at
                break
        times.append(hit)
    return None if None in times else round(max(times)), times

figures = {}
for name, at, kind, arg in (l.split() for l in open(f"{work}/changes")):
    figures[name] = follow(int(at), kind, arg)

def detection(log):
    # The first line after the drop naming the dropped destination (a retry or a failure), minus the drop's time.
    for line in open(log):
        if f"destination={dropped}" not in line:
            continue
        try:
            t = datetime.datetime.strptime(line[:24], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            continue
        at = t.timestamp() * 1000
        if at >= drop_ms:
            cause = line.split(" cause=")[1].split(" (")[0].split(":")[0] if " cause=" in line else "?"
            return round(at - drop_ms), cause
    return None, "-"

rows = []
for i, (name, start) in enumerate(events[:-1]):
    end = events[i + 1][1]
    inside = [r for r in load if start <= r[0] < end]
    failed = [r for r in inside if not r[2]]
    rows.append({"event": name, "requests": len(inside), "failed": len(failed), "kinds": sorted({r[3] for r in failed}),
                 "max_ms": round(max((r[1] for r in inside), default=0)),
                 "follow_ms": figures.get(name, (None, []))[0], "per_replica": figures.get(name, (None, []))[1]})
det = [detection(f"{work}/t1.log"), detection(f"{work}/t2.log")]
print(json.dumps({"rows": rows, "detection": det, "total": len(load), "failed": sum(1 for r in load if not r[2])}))
PY
)
echo
echo "Fleet figures ($( [ "$SHORT" = 1 ] && echo short || echo full ) form, ${PHASE_S} s per phase, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)):"
python3 - "$report" "$READ_IDLE_MS" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); bound = int(sys.argv[2])
print(f"| {'event':<13} | {'requests':>8} | {'failed':>6} | {'max latency':>11} | {'both followed (t1/t2)':>21} | failures")
print(f"|{'-' * 15}|{'-' * 9}:|{'-' * 7}:|{'-' * 12}:|{'-' * 22}:|---------")
for row in r["rows"]:
    each = "/".join("-" if t is None else str(round(t)) for t in row["per_replica"])
    follow = "" if not row["per_replica"] else (f"{row['follow_ms']} ms ({each})" if row["follow_ms"] is not None else f"not followed ({each})")
    print(f"| {row['event']:<13} | {row['requests']:>8} | {row['failed']:>6} | {str(row['max_ms']) + ' ms':>11} | {follow:>21} | {', '.join(row['kinds'])}")
for name, (ms, cause) in zip(["t1", "t2"], r["detection"]):
    print(f"silent drop detected by {name}: {'not seen' if ms is None else str(ms) + ' ms'} after the drop (cause {cause}; bound: readIdleTimeout {bound} ms)")
print(f"all phases: {r['total']} requests, {r['failed']} failed")
PY
row() { python3 -c "import json,sys; r=json.loads(sys.argv[1]); v=[x for x in r['rows'] if x['event']==sys.argv[2]][0][sys.argv[3]]; print('-' if v is None else v)" "$report" "$1" "$2"; }
for event in steady etcd-add etcd-remove dns-add dns-remove config-change drain; do
  check "$event: 0 failed requests (got $(row "$event" failed))" test "$(row "$event" failed)" = 0
done
check "silent drop: 0 failed GETs (got $(row silent-drop failed))" test "$(row silent-drop failed)" = 0
check "after the drop: 0 failed requests (got $(row after-drop failed))" test "$(row after-drop failed)" = 0
config_ms=$(row config-change follow_ms)
check "config change: both replicas ran the new configRevision ($config_ms ms)" test "$config_ms" != -
# The 1 s target is judged in the full form (by hand, on a quiet machine); the short form runs in CI beside other
# work, where a sub-second figure measures the machine's load as much as Tether, so it is shown, not judged.
if [ "$SHORT" = 1 ]; then
  echo "INFO  config change followed by both replicas in $config_ms ms (target 1000 ms, judged in the full form)"
else
  check "config change: both replicas run the new configRevision within 1000 ms ($config_ms ms)" \
    bash -c "[ '$config_ms' != - ] && [ '$config_ms' -le 1000 ]"
fi
for event in etcd-add etcd-remove dns-add dns-remove; do
  f=$(row "$event" follow_ms)
  check "$event: both replicas followed ($f ms)" test "$f" != -
done
for i in 0 1; do
  d=$(python3 -c "import json,sys; v=json.loads(sys.argv[1])['detection'][$i][0]; print(-1 if v is None else v)" "$report")
  check "silent drop detected by t$((i + 1)) within readIdleTimeout + 1 s ($d ms, bound $READ_IDLE_MS ms)" \
    bash -c "[ '$d' -ge 0 ] && [ '$d' -le $((READ_IDLE_MS + 1000)) ]"
done
echo "INFO  t1: $(grep -o 'stopped after draining.*' "$WORK/t1.log" || echo 'no drain summary')"
check "drained replica exited 0 (got $drain_rc) in $DRAIN_EXIT_MS ms (drain.delay ${DRAIN_DELAY_S} s)" test "$drain_rc" = 0
finish
