"""Keep-alive HTTP/1.1 load that remembers when each request started and how it ended.

    keepalive_load.py --port P [--conns 16] [--seconds 6] --out FILE

Each connection sends GET / and reads the response (Content-Length or chunked), again and again; after a
"Connection: close" response, or a failure, it opens a new connection. FILE gets
{"ok": n, "failures": [[start_ns, what], ...]} with CLOCK_REALTIME nanoseconds, so a caller can count the
failures of requests started before some moment (a drain's signal). Standard library only.
"""
import argparse
import asyncio
import json
import time

from http_response import read_response


async def lane(port, deadline, result):
    reader = writer = None
    while time.monotonic() < deadline:
        start = time.time_ns()
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
            writer.write(b"GET / HTTP/1.1\r\nHost: drain\r\n\r\n")
            await writer.drain()
            status, close = await asyncio.wait_for(read_response(reader), 10)
            if status != 200:
                result["failures"].append([start, f"status {status}"])
            else:
                result["ok"] += 1
            if close:
                writer.close()
                writer = None
        except (ConnectionRefusedError, OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as e:
            # A refused connect never sent a request; everything else was a request in flight.
            if not isinstance(e, ConnectionRefusedError):
                result["failures"].append([start, type(e).__name__])
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--conns", type=int, default=16)
    p.add_argument("--seconds", type=float, default=6)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    result = {"ok": 0, "failures": []}
    deadline = time.monotonic() + a.seconds
    await asyncio.gather(*(lane(a.port, deadline, result) for _ in range(a.conns)))
    with open(a.out, "w") as f:
        json.dump(result, f)


asyncio.run(main())
