"""A node stand-in for the clock tests: tells what time it thinks it is.

Runs an asyncio loop with a 5 ms ticker (so a stalled or crashed loop shows) and
answers one line per command on stdin:

    now    -> "<time.time()> <time.monotonic()>"
    stats  -> "<ticks> <ticker done: 0|1>"
    sleep  -> "slept" after time.sleep(0.05) (libfaketime rewrites that call)

Its first line, once it is up, is ``ready <port>``: with ``--http`` it also serves
``GET /`` on 127.0.0.1 at that port with a JSON status that includes its wall time
(``ready 0`` without).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


async def tick(stats: dict[str, int]) -> None:
    while True:
        await asyncio.sleep(0.005)
        stats["ticks"] += 1


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
        pass
    body = json.dumps({"role": "leader", "term": 1, "leader": "n1", "time": time.time()})
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
    )
    await writer.drain()
    writer.close()


async def main() -> None:
    stats = {"ticks": 0}
    ticker = asyncio.create_task(tick(stats))
    port = 0
    if "--http" in sys.argv:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
    print(f"ready {port}", flush=True)
    # Read stdin on the loop, not in an executor thread: libfaketime rereads its file
    # into one unlocked static buffer, so two threads asking the time at once can make
    # it re-parse a half-read spec (see chaoskit/clock/faketime.py). One thread, as the
    # reference nodes have.
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    while True:
        line = (await stdin.readline()).decode()
        command = line.strip()
        if not line:
            return
        if command == "now":
            print(f"{time.time():.6f} {time.monotonic():.6f}", flush=True)
        elif command == "stats":
            print(f"{stats['ticks']} {int(ticker.done())}", flush=True)
        elif command == "sleep":
            time.sleep(0.05)
            print("slept", flush=True)
        else:
            print(f"unknown {command}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
