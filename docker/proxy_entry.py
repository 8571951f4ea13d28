"""Entry point of the proxy image: the embedded fault proxy, optionally pre-populated.

Why a script and not just ``chaoskit proxy``: docker-compose has no hook to create the
proxies after the server is up, so this starts the server and then posts a JSON file
in Toxiproxy's ``/populate`` format to it (``--config FILE``). With no config file it
is the same as ``chaoskit proxy --host 0.0.0.0 --port 8474``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from pathlib import Path
from typing import Any

from chaoskit.proxy import ProxyClient, ProxyServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8474)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", type=Path, help="JSON list of proxies to create")
    return parser.parse_args(argv)


async def populate(url: str, proxies: list[dict[str, Any]]) -> None:
    """Create the proxies of the config file through the server's own HTTP API."""
    client = ProxyClient(url)
    try:
        await client.populate(proxies)
    finally:
        await client.aclose()


async def main(args: argparse.Namespace) -> None:
    server = ProxyServer(host=args.host, port=args.port, seed=args.seed)
    await server.start()
    print(f"chaoskit proxy listening on {args.host}:{server.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if args.config is not None:
            proxies = json.loads(args.config.read_text())
            await populate(f"http://127.0.0.1:{server.port}", proxies)
            print(f"created {len(proxies)} proxies from {args.config}", flush=True)
        await stop.wait()
    finally:
        await server.close()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
