"""Entry point of the proxy image: the embedded fault proxy, optionally pre-populated.

Why a script and not just ``chaoskit proxy``: docker-compose has no hook to create the
proxies after the server is up, so this starts the server and then posts a JSON file
in Toxiproxy's ``/populate`` format to it (``--config FILE``).

Access (chaoskit/proxy/__init__.py explains the design): the token comes from
``CHAOSKIT_PROXY_TOKEN`` in the environment (how the Docker runtime passes it: never
on the command line) or ``--token-file``. Inside a container the API and the proxies
must listen on ``0.0.0.0`` (the container's own network): that takes
``--allow-remote-listen``. ``--allow-client gateway`` accepts API connections only from
loopback and the container's default gateway, through which a port published on the
host arrives; the nodes, on the same network, are refused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import struct
import sys
from pathlib import Path
from typing import Any

from chaoskit.errors import ChaoskitError
from chaoskit.proxy import Policy, ProxyClient, ProxyServer
from chaoskit.proxy._cli import TOKEN_ENV, token_from

ROUTES = Path("/proc/net/route")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8474)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", type=Path, help="JSON list of proxies to create")
    parser.add_argument("--token-file", type=Path, help=f"token file (or {TOKEN_ENV})")
    parser.add_argument("--allow-remote-listen", action="store_true")
    parser.add_argument(
        "--allow-client",
        action="append",
        default=[],
        metavar="CIDR|gateway",
        help="accept API connections only from these (and loopback); 'gateway': the "
        "default gateway, where published ports come from",
    )
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME")
    parser.add_argument("--allow-upstream", action="append", default=None, metavar="CIDR|NAME")
    return parser.parse_args(argv)


def default_gateway(routes: Path = ROUTES) -> str:
    """The IPv4 default gateway from the kernel's routing table (``/proc/net/route``:
    little-endian hex), without needing ``ip`` in the image."""
    for line in routes.read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) > 2 and fields[1] == "00000000" and int(fields[3], 16) & 0x2:
            return socket.inet_ntoa(struct.pack("<L", int(fields[2], 16)))
    raise ChaoskitError(f"no default gateway in {routes}: cannot resolve --allow-client gateway")


def policy_from(args: argparse.Namespace) -> Policy:
    clients = [default_gateway() if c == "gateway" else c for c in args.allow_client]
    return Policy.build(
        allow_hosts=args.allow_host,
        allow_remote_listen=args.allow_remote_listen,
        allow_upstreams=args.allow_upstream,
        allow_clients=[*clients, "127.0.0.0/8", "::1"] if clients else None,
    )


async def populate(url: str, proxies: list[dict[str, Any]], token: str | None) -> None:
    """Create the proxies of the config file through the server's own HTTP API."""
    client = ProxyClient(url, token=token)
    try:
        await client.populate(proxies)
    finally:
        await client.aclose()


async def main(args: argparse.Namespace) -> None:
    token = token_from(args.token_file)
    policy = policy_from(args)
    server = ProxyServer(host=args.host, port=args.port, seed=args.seed, token=token, policy=policy)
    await server.start()
    access = "token required" if token else "no token"
    clients = ", ".join(map(str, policy.allow_clients or ())) or "any"
    print(
        f"chaoskit proxy listening on {args.host}:{server.port} ({access}; clients: {clients})",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if args.config is not None:
            proxies = json.loads(args.config.read_text())
            await populate(f"http://127.0.0.1:{server.port}", proxies, token)
            print(f"created {len(proxies)} proxies from {args.config}", flush=True)
        await stop.wait()
    finally:
        await server.close()


if __name__ == "__main__":
    try:
        asyncio.run(main(parse_args()))
    except ChaoskitError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
