#!/usr/bin/env bash
# PROXY protocol with HAProxy as the real peer, both directions:
#   curl (from 127.0.0.5) -> HAProxy "send-proxy-v2" -> Tether (listener proxyProtocol required, trusting 127.0.0.1)
#   -> Tether cluster proxyProtocol v1 -> HAProxy "accept-proxy" (sets X-PP-Src from the header) -> nginx.
# The origin must see the first client, 127.0.0.5, in both X-Forwarded-For (Tether) and X-PP-Src (HAProxy).
# Spoofing: a PROXY header from 127.0.0.2 (untrusted) and a connection without a header are closed.
# Usage: acceptance/proxy-protocol.sh [--short]
source "$(dirname "$0")/lib.sh"

origin=$(free_port); port=$(free_port); admin=$(free_port); front=$(free_port); back=$(free_port)
start_origin "$origin"
# Log what the origin was told, to compare.
sed -i "s|access_log $WORK/nginx-$origin/logs/access.log;|log_format pp '\$http_x_forwarded_for \$http_x_pp_src'; access_log $WORK/nginx-$origin/logs/access.log pp;|" "$WORK/nginx-$origin/nginx.conf"
nginx -c "$WORK/nginx-$origin/nginx.conf" -p "$WORK/nginx-$origin" -s reload 2>/dev/null
sleep 0.5

cat >"$WORK/haproxy.cfg" <<CONF
global
  maxconn 1000
defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend in
  bind 127.0.0.1:$front
  default_backend tether
backend tether
  server t 127.0.0.1:$port send-proxy-v2
frontend behind_tether
  bind 127.0.0.1:$back accept-proxy
  http-request set-header X-PP-Src %[src]
  default_backend origin
backend origin
  server o 127.0.0.1:$origin
CONF
haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.log" 2>&1 &
PIDS+=($!)

cat >"$WORK/tether.json" <<CONF
{
  "listeners": [{ "address": "127.0.0.1:$port", "protocols": "http1",
                  "proxyProtocol": { "mode": "required", "trustedNetworks": ["127.0.0.1/32"], "timeout": "2s" } }],
  "routes": [{ "cluster": "behind" }],
  "clusters": { "behind": { "destinations": ["127.0.0.1:$back"], "proxyProtocol": "v1" } },
  "admin": { "address": "127.0.0.1:$admin" }
}
CONF
start_tether "$WORK/tether.json" "$port" "$admin"
wait_port "$front"

code=$(curl -s -o /dev/null -w "%{http_code}" --interface 127.0.0.5 "http://127.0.0.1:$front/")
check "curl from 127.0.0.5 through HAProxy send-proxy-v2 -> Tether -> HAProxy accept-proxy -> nginx: $code" [ "$code" = "200" ]
sleep 0.3
seen=$(tail -1 "$ORIGIN_LOG")
check "origin saw 'X-Forwarded-For X-PP-Src' = '$seen' (both 127.0.0.5: v2 in, v1 out)" [ "$seen" = "127.0.0.5 127.0.0.5" ]

# curl's own PROXY v1 header, from the trusted address: served, and the address it carries is used.
code=$(curl -s -o /dev/null -w "%{http_code}" --haproxy-protocol "http://127.0.0.1:$port/")
check "curl --haproxy-protocol (v1) from trusted 127.0.0.1: $code" [ "$code" = "200" ]

# Spoofing: a header from an untrusted address, and no header at all. (Counters are compared with their
# values here: the port probe that waited for Tether to start was itself a connection without a header.)
before=$(origin_requests)
declare -A was
for reason in proxyProtocolUntrusted proxyProtocolMissing proxyProtocolInvalid; do was[$reason]=$(closed "$admin" "$reason"); done
code=$(curl -s -o /dev/null -w "%{http_code}" --haproxy-protocol --interface 127.0.0.2 "http://127.0.0.1:$port/" || true)
check "PROXY header from untrusted 127.0.0.2: closed, curl got '$code' (expected 000)" [ "$code" = "000" ]
code=$(curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$port/" || true)
check "no PROXY header on a 'required' listener: closed, curl got '$code' (expected 000)" [ "$code" = "000" ]
# Tether closes with the request unread, which is an RST: the bytes go out in one write (tools/raw_send.py) and
# the reply is what is judged, so neither a reset nor a failing pipe ends the script under set -e.
reply=$(printf 'PROXY TCP4 203.0.113.7 127.0.0.1 99999 80\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n' | python3 "$ROOT/acceptance/tools/raw_send.py" "$port" | head -c 100) || true
check "malformed PROXY header: closed without a response (got '${reply}')" [ -z "$reply" ]
sleep 0.3
check "origin saw $(( $(origin_requests) - before )) requests from those (expected 0)" [ "$(origin_requests)" -eq "$before" ]
for reason in proxyProtocolUntrusted proxyProtocolMissing proxyProtocolInvalid; do
  n=$(( $(closed "$admin" "$reason") - ${was[$reason]} ))
  check "/status connections.closed.$reason went up by $n (expected 1)" [ "$n" -eq 1 ]
done
finish
