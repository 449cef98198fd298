#!/usr/bin/env bash
# Request smuggling payloads sent raw to Tether: every one is rejected (400, connection closed) and the
# origin (nginx, counting requests in its access log) sees none of them. A smuggled second request rides
# behind each payload; it must not reach the origin either.
# Usage: acceptance/smuggling.sh [--short]
source "$(dirname "$0")/lib.sh"

origin=$(free_port); port=$(free_port); admin=$(free_port)
start_origin "$origin"
cat >"$WORK/tether.json" <<CONF
{
  "listeners": [{ "address": "127.0.0.1:$port", "protocols": "http1" }],
  "routes": [{ "cluster": "origin" }],
  "clusters": { "origin": { "destinations": ["127.0.0.1:$origin"] } },
  "admin": { "address": "127.0.0.1:$admin" }
}
CONF
start_tether "$WORK/tether.json" "$port" "$admin"

S='GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'
declare -A payloads=(
  ["TE+CL"]="POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n$S"
  ["CL+TE"]="POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n$S"
  ["duplicate CL"]="POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhello$S"
  ["TE chunked, identity"]="POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n$S"
  ["TE xchunked"]="POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n$S"
  ["bare-LF chunk extension"]="POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n$S"
  ["bare-LF after chunk size"]="POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n$S"
  ["bad chunk size"]="POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n$S"
  ["space before colon"]="POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n$S"
)

before=$(origin_requests)
for name in "${!payloads[@]}"; do
  # One write of the raw bytes (tools/raw_send.py): bash's /dev/tcp writes line by line, and once Tether
  # has answered 400 and closed, a later line meets an RST and SIGPIPE ends the sender unread (CI, once).
  reply=$(printf "%b" "${payloads[$name]}" | python3 "$ROOT/acceptance/tools/raw_send.py" "$port" | head -1 | tr -d '\r') || true
  check "$name: Tether answers '${reply:-nothing}' (expected 400)" [ "${reply#HTTP/1.1 400}" != "$reply" ]
done
sleep 0.5
after=$(origin_requests)
check "origin saw $((after - before)) of those requests (expected 0)" [ "$after" -eq "$before" ]
[ "$after" -eq "$before" ] || tail -n $((after - before)) "$ORIGIN_LOG"

# h2c upgrade: answered as a plain request, never 101.
reply=$(curl -s -o /dev/null -w "%{http_code}" --http2 "http://127.0.0.1:$port/")
check "Upgrade: h2c is not honoured: curl --http2 (h2c upgrade) gets $reply over HTTP/1.1 (expected 200, not 101)" [ "$reply" = "200" ]
finish
