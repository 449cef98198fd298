"""Steady HTTP/1.1 load for acceptance/fleet.sh that remembers every request, so failures can be counted per phase.

    fleet_load.py --host H --port P --paths /reg,/dns [--conns 16] [--close-conns 2] [--seconds S] --out FILE

It runs until SIGTERM or SIGINT (or --seconds, if given), then writes FILE.

--conns lanes keep their connection alive (a new one after "Connection: close" or a failure); --close-conns lanes
open a new connection for every request (so the L4 balancer's choice of replica is exercised all the time). Lanes
take the paths in turn. FILE gets {"requests": [[start_ms, duration_ms, ok, what], ...]} with CLOCK_REALTIME
milliseconds (float), "what" being "" or the failure ("status 502", "IncompleteReadError", ...). A refused connect
is not a request (nothing was sent) but is counted under "refused". Standard library only.
"""
import argparse
import asyncio
import json
import signal
import time

from http_response import read_response


async def lane(args, path, keep_alive, deadline, result, stop):
    reader = writer = None
    request = f"GET {path} HTTP/1.1\r\nHost: fleet\r\n{'' if keep_alive else 'Connection: close' + chr(13) + chr(10)}\r\n".encode()
    while time.monotonic() < deadline and not stop.is_set():
        start = time.time()
        try:
            if writer is None:
                try:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection(args.host, args.port), 3)
                except ConnectionRefusedError:
                    result["refused"] += 1
                    await asyncio.sleep(0.01)
                    continue
            writer.write(request)
            await writer.drain()
            status, close = await asyncio.wait_for(read_response(reader), args.timeout)
            what = "" if status == 200 else f"status {status}"
            if close or not keep_alive:
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError, IndexError) as e:
            what = type(e).__name__
            if writer is not None:
                writer.close()
            writer = None
        end = time.time()
        result["requests"].append([round(start * 1000, 1), round((end - start) * 1000, 1), 1 if what == "" else 0, what])
        if what:
            await asyncio.sleep(0.01)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--paths", default="/")
    p.add_argument("--conns", type=int, default=16)
    p.add_argument("--close-conns", type=int, default=2)
    p.add_argument("--seconds", type=float, default=3600)
    p.add_argument("--timeout", type=float, default=10)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    paths = a.paths.split(",")
    result = {"requests": [], "refused": 0}
    deadline = time.monotonic() + a.seconds
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    lanes = [lane(a, paths[i % len(paths)], True, deadline, result, stop) for i in range(a.conns)]
    lanes += [lane(a, paths[i % len(paths)], False, deadline, result, stop) for i in range(a.close_conns)]
    await asyncio.gather(*lanes)
    with open(a.out, "w") as f:
        json.dump(result, f)


asyncio.run(main())
