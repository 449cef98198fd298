#!/usr/bin/env python3
"""Send stdin's bytes to 127.0.0.1:PORT in one write, print what comes back (at most 200 bytes).

bash's /dev/tcp writes a printf line by line; when Tether rejects the head and closes, the later writes
meet an RST and SIGPIPE kills the sender before it reads the reply. One sendall avoids that race, and a
reset after the reply still prints the bytes that arrived.
Usage: printf '%b' "$payload" | raw_send.py PORT [TIMEOUT_SECONDS]
"""
import socket
import sys

port = int(sys.argv[1])
timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
payload = sys.stdin.buffer.read()
reply = b""
with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
    try:
        s.sendall(payload)
        while len(reply) < 200:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        pass
sys.stdout.buffer.write(reply[:200])
