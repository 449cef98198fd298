#!/usr/bin/env bash
# maxConnectionsPerClient = 100: 150 keep-alive connections from 127.0.0.1 -> exactly 100 served, 50 closed at
# once; meanwhile a client on 127.0.0.2 (another IP: all of 127/8 is loopback) is served normally.
# Usage: acceptance/per-ip-limit.sh [--short]
source "$(dirname "$0")/lib.sh"

origin=$(free_port); port=$(free_port); admin=$(free_port)
start_origin "$origin"
cat >"$WORK/tether.json" <<CONF
{
  "listeners": [{ "address": "127.0.0.1:$port", "protocols": "http1" }],
  "downstream": { "maxConnectionsPerClient": 100 },
  "routes": [{ "cluster": "origin" }],
  "clusters": { "origin": { "destinations": ["127.0.0.1:$origin"] } },
  "admin": { "address": "127.0.0.1:$admin" }
}
CONF
start_tether "$WORK/tether.json" "$port" "$admin"

# 150 connections opened one after another from 127.0.0.1 and all held open; each sends one request.
read -r served refused < <(python3 - "$port" <<'PY'
import socket, sys
port = int(sys.argv[1])
held, served, refused = [], 0, 0
for i in range(150):
    s = socket.create_connection(("127.0.0.1", port), timeout=3, source_address=("127.0.0.1", 0))
    held.append(s)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = s.recv(4096)
        if data.startswith(b"HTTP/1.1 200"):
            served += 1
        else:
            refused += 1
    except OSError:
        refused += 1
print(served, refused)
PY
)
check "150 connections from 127.0.0.1: $served served (expected 100)" [ "$served" -eq 100 ]
check "150 connections from 127.0.0.1: $refused closed without a response (expected 50)" [ "$refused" -eq 50 ]
n=$(closed "$admin" perClientLimit)
check "/status connections.closed.perClientLimit = $n (expected 50)" [ "$n" -eq 50 ]

# Another IP while 127.0.0.1 is (again) at its cap: hold 100 from 127.0.0.1, then curl from 127.0.0.2.
python3 - "$port" <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.1", 0)) for _ in range(100)]
time.sleep(6)
PY
holder=$!; PIDS+=($holder)
sleep 1
codes=$(for i in 1 2 3 4 5; do curl -s -o /dev/null -w "%{http_code} " --interface 127.0.0.2 "http://127.0.0.1:$port/"; done)
check "127.0.0.2 while 127.0.0.1 holds 100: 5 requests -> $codes(all 200)" [ "$codes" = "200 200 200 200 200 " ]
kill "$holder" 2>/dev/null || true
finish
