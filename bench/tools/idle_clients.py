"""Opens N keep-alive HTTP/1.1 connections to a proxy, sends one GET on each and reads the whole
response, then holds every connection open and idle until told to let go.

The harness reads the proxy's RSS before and while the connections are held; this client only
reports how many connections got their response. Standard library only (asyncio).

    idle_clients.py --port P --conns 5000 --ready-file F --release-file G [--max-hold 60]

Writes {"ok": n, "failed": m, "errors": {...}} to --ready-file once every connection has its
answer (or failed), then waits for --release-file to appear (or --max-hold seconds) and exits.
"""
import argparse
import asyncio
import json
import os
import resource
import sys
import time


async def one(host: str, port: int, path: str, gate: asyncio.Semaphore, held: list, errors: dict) -> bool:
    async with gate:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            length, chunked, close = None, False, False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name, value = name.strip().lower(), value.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "transfer-encoding" and "chunked" in value:
                    chunked = True
                elif name == "connection" and "close" in value:
                    close = True
            if chunked:
                while True:
                    size = int((await asyncio.wait_for(reader.readline(), 10)).split(b";")[0], 16)
                    await asyncio.wait_for(reader.readexactly(size + 2), 10)
                    if size == 0:
                        break
            elif length:
                await asyncio.wait_for(reader.readexactly(length), 10)
            if status != 200 or close:
                key = f"status {status}" if status != 200 else "Connection: close"
                errors[key] = errors.get(key, 0) + 1
                writer.close()
                return False
            held.append(writer)
            return True
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError) as e:
            key = type(e).__name__
            errors[key] = errors.get(key, 0) + 1
            return False


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/")
    ap.add_argument("--conns", type=int, default=5000)
    ap.add_argument("--parallel", type=int, default=200, help="connections being opened at once")
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--release-file", required=True)
    ap.add_argument("--max-hold", type=float, default=60)
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.conns + 100
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    gate = asyncio.Semaphore(args.parallel)
    held: list = []
    errors: dict = {}
    results = await asyncio.gather(*(one(args.host, args.port, args.path, gate, held, errors) for _ in range(args.conns)))
    ok = sum(1 for r in results if r)
    tmp = args.ready_file + ".part"
    with open(tmp, "w") as f:
        json.dump({"ok": ok, "failed": args.conns - ok, "errors": errors}, f)
    os.replace(tmp, args.ready_file)

    deadline = time.monotonic() + args.max_hold
    while time.monotonic() < deadline and not os.path.exists(args.release_file):
        await asyncio.sleep(0.1)
    for writer in held:
        writer.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
