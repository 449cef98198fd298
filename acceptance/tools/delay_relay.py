"""A TCP relay that adds latency, for a kernel without netem (acceptance/fleet.sh).

    delay_relay.py --listen HOST:PORT --to HOST:PORT --delay-ms 30

Every chunk read from either side is written to the other side --delay-ms later, in order, so a request is
answered at least twice the delay later and there is always work in flight on a loaded relay. A FIN is relayed
after the data before it. Standard library only.
"""
import argparse
import asyncio


async def pipe(reader, writer, delay):
    queue = asyncio.Queue(maxsize=256)  # bounded: a slow reader holds back the sender, as TCP would

    async def deliver():
        while True:
            due, data = await queue.get()
            wait = due - asyncio.get_running_loop().time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                try:
                    writer.write_eof()
                except OSError:
                    pass
                return
            writer.write(data)
            await writer.drain()

    task = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(65536)
            await queue.put((asyncio.get_running_loop().time() + delay, data or None))
            if not data:
                break
        await task
    except (OSError, asyncio.CancelledError):
        task.cancel()


async def handle(client_reader, client_writer, target, delay):
    try:
        server_reader, server_writer = await asyncio.open_connection(*target)
    except OSError:
        client_writer.close()
        return
    try:
        await asyncio.gather(pipe(client_reader, server_writer, delay), pipe(server_reader, client_writer, delay))
    finally:
        client_writer.close()
        server_writer.close()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--to", required=True)
    p.add_argument("--delay-ms", type=float, default=30)
    a = p.parse_args()
    lhost, lport = a.listen.rsplit(":", 1)
    thost, tport = a.to.rsplit(":", 1)
    server = await asyncio.start_server(lambda r, w: handle(r, w, (thost, int(tport)), a.delay_ms / 1000), lhost, int(lport))
    async with server:
        await server.serve_forever()


asyncio.run(main())
