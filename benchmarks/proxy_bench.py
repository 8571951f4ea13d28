"""Benchmark the embedded fault proxy against a direct connection and socat.

Run: ``python benchmarks/proxy_bench.py`` (needs ``socat`` on PATH).

What is measured, all on 127.0.0.1, each path forwarding to the same upstream:

- direct:   the client talks to the upstream itself;
- socat:    ``socat TCP-LISTEN:...,fork TCP:upstream`` in its own process;
- chaoskit: ``python -m chaoskit.proxy`` in its own process, one proxy, no toxics.

1. Round trip of a small request (64 bytes, echoed) over one kept-alive connection:
   p50 and p99 over many requests after a warm-up; "added" is the p50/p99 minus the
   direct one, i.e. what the forwarding hop costs.
2. Paired rounds: within a round the paths alternate request by request, each on its
   own connection (so a burst of other work on the machine hits all alike); each
   round's p99 of chaoskit is compared with socat's of the same round: in how many
   rounds it is no worse, and the median ratio.
3. CPU per round trip of the forwarding process (user + system, read from /proc for
   its whole process group: socat forks a child per connection), the cost that is
   least disturbed by a loaded machine.
4. Bulk throughput: the client uploads a large payload in 256 KiB writes, half-closes,
   and the upstream answers once it has read everything; MB/s over that time (best of
   a few runs, to damp noise from other work on the machine).

The upstream is a plain blocking-socket Python server in a separate process.
Printed: one table, the paired rounds, and chaoskit/socat ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from chaoskit.runtimes.ports import reserve_port

REPO = Path(__file__).resolve().parent.parent
REQUEST = b"x" * 64
BULK_CHUNK = b"\0" * (256 * 1024)


# -- the upstream (runs in its own process) --------------------------------------------
def _serve_one(conn: socket.socket) -> None:
    """First byte chooses the mode: b"e" echo, b"s" sink (count until EOF, answer)."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with conn:
        mode = conn.recv(1)
        if mode == b"e":
            while data := conn.recv(65536):
                conn.sendall(data)
        elif mode == b"s":
            total = 0
            while data := conn.recv(1 << 20):
                total += len(data)
            conn.sendall(str(total).encode())


def upstream_main(port_file: str) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    Path(port_file).write_text(str(listener.getsockname()[1]))
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_serve_one, args=(conn,), daemon=True).start()


# -- helpers ----------------------------------------------------------------------------
def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port} after {timeout} s")


@contextlib.contextmanager
def process(argv: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    """A child in its own process group, killed with its group (socat forks)."""
    proc = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def start_upstream(tmp: Path) -> tuple[contextlib.ExitStack, int]:
    stack = contextlib.ExitStack()
    port_file = tmp / "upstream.port"
    stack.enter_context(process([sys.executable, __file__, "--upstream", str(port_file)]))
    deadline = time.monotonic() + 10
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline:
            raise SystemExit("upstream did not start")
        time.sleep(0.02)
    return stack, int(port_file.read_text())


# -- measurements -------------------------------------------------------------------------
def interleaved_round_trips(
    ports: dict[str, int], count: int, warmup: int
) -> dict[str, list[float]]:
    """Round trips on one connection per path, the paths alternating request by request.

    A burst of other work on the machine then falls on every path alike, so the
    tails of the paths can be compared within one round.
    """
    with contextlib.ExitStack() as stack:
        socks = {}
        for name, port in ports.items():
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", port)))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(b"e")
            socks[name] = sock
        samples: dict[str, list[float]] = {name: [] for name in ports}
        for i in range(warmup + count):
            for name, sock in socks.items():
                start = time.perf_counter()
                sock.sendall(REQUEST)
                got = 0
                while got < len(REQUEST):
                    got += len(sock.recv(4096))
                if i >= warmup:
                    samples[name].append(time.perf_counter() - start)
        return samples


def bulk(port: int, total: int) -> float:
    """MB/s of one upload of ``total`` bytes, until the upstream confirms the count."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"s")
        start = time.perf_counter()
        sent = 0
        while sent < total:
            sock.sendall(BULK_CHUNK)
            sent += len(BULK_CHUNK)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while data := sock.recv(64):
            answer += data
        elapsed = time.perf_counter() - start
    if int(answer or b"0") != sent:
        raise SystemExit(f"bulk transfer lost data: sent {sent}, upstream read {answer!r}")
    return sent / elapsed / 1e6


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


def group_cpu(pgid: int) -> float:
    """CPU seconds used by a process group: its live members, and children reaped."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[2]) == pgid:  # field 5, the process group
                total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


Results = dict[str, dict[str, Any]]


def measure(ports: dict[str, int], groups: dict[str, int], args: argparse.Namespace) -> Results:
    """Rounds of round trips (the paths alternating request by request), then bulk."""
    rounds: dict[str, list[list[float]]] = {name: [] for name in ports}
    cpu: dict[str, float] = dict.fromkeys(ports, 0.0)
    rates: dict[str, list[float]] = {name: [] for name in ports}
    per_round = max(1, args.requests // args.runs)
    for _ in range(args.runs):
        before = {name: group_cpu(pgid) for name, pgid in groups.items()}
        for name, samples in interleaved_round_trips(ports, per_round, args.warmup).items():
            rounds[name].append(samples)
        for name, pgid in groups.items():
            cpu[name] += group_cpu(pgid) - before[name]
        for name, port in ports.items():
            rates[name].append(bulk(port, args.megabytes * 1_000_000))
    out: Results = {}
    for name in ports:
        every = [x for r in rounds[name] for x in r]
        out[name] = {
            "p50": percentile(every, 50) * 1e6,
            "p99": percentile(every, 99) * 1e6,
            "round_p99": [percentile(r, 99) * 1e6 for r in rounds[name]],
            "cpu_us": cpu[name] / (args.runs * (per_round + args.warmup)) * 1e6,
            "mbps": max(rates[name]),
        }
    return out


# -- the paths under test -------------------------------------------------------------------
@contextlib.contextmanager
def socat(upstream: int) -> Iterator[tuple[int, int]]:
    port = reserve_port()
    argv = [
        "socat",
        "-b",
        str(len(BULK_CHUNK)),  # socat's default 8 KiB buffer would handicap it
        f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,nodelay",
        f"TCP:127.0.0.1:{upstream},nodelay",
    ]
    with process(argv) as proc:
        wait_port(port)
        yield port, proc.pid


@contextlib.contextmanager
def chaoskit(upstream: int) -> Iterator[tuple[int, int]]:
    api = reserve_port()
    argv = [sys.executable, "-m", "chaoskit.proxy", "--port", str(api)]
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = f"{REPO}{os.pathsep}{env_path}" if env_path else str(REPO)
    with process(argv) as proc:
        wait_port(api)
        body = {"name": "bench", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{upstream}"}
        answer = httpx.post(f"http://127.0.0.1:{api}/proxies", json=body).json()
        yield int(answer["listen"].rpartition(":")[2]), proc.pid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5, help="rounds (paths interleaved)")
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        upstream_main(args.upstream)
        return
    if shutil.which("socat") is None:
        raise SystemExit("socat is not installed (apt-get install -y socat)")

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        stack, upstream = start_upstream(Path(tmp))
        with stack, socat(upstream) as (via_socat, s), chaoskit(upstream) as (via_ours, c):
            ports = {"direct": upstream, "socat": via_socat, "chaoskit": via_ours}
            results = measure(ports, {"socat": s, "chaoskit": c}, args)
    report(results, args)


def report(results: Results, args: argparse.Namespace) -> None:
    direct = results["direct"]
    print(
        f"{args.requests} round trips of {len(REQUEST)} B on one connection; "
        f"bulk upload of {args.megabytes} MB, best of {args.runs}; "
        "paths alternating request by request"
    )
    head = f"{'path':<10}{'p50 µs':>10}{'p99 µs':>10}{'+p50 µs':>10}{'+p99 µs':>10}"
    print(f"{head}{'CPU µs/rt':>11}{'MB/s':>10}")
    for name, r in results.items():
        cpu = f"{r['cpu_us']:>11.1f}" if name != "direct" else f"{'-':>11}"
        print(
            f"{name:<10}{r['p50']:>10.1f}{r['p99']:>10.1f}{r['p50'] - direct['p50']:>10.1f}"
            f"{r['p99'] - direct['p99']:>10.1f}{cpu}{r['mbps']:>10.0f}"
        )
    ours, theirs = results["chaoskit"], results["socat"]
    pairs = list(zip(ours["round_p99"], theirs["round_p99"], strict=True))
    print(
        "p99 per round, chaoskit / socat (µs): " + ", ".join(f"{a:.0f}/{b:.0f}" for a, b in pairs)
    )
    wins = sum(a <= b for a, b in pairs)
    ratio = statistics.median(a / b for a, b in pairs)
    print(f"chaoskit p99 <= socat p99 in {wins} of {len(pairs)} rounds; median ratio {ratio:.2f}x")
    print(f"chaoskit/socat CPU per round trip: {ours['cpu_us'] / theirs['cpu_us']:.2f}x")
    for q, aim in (("p50", " (aim <= 1.5x)"), ("p99", "")):
        mine, socats = ours[q] - direct[q], theirs[q] - direct[q]
        ratio = f"{mine / socats:.2f}x" if socats > 0 else "n/a (socat added nothing: noise)"
        print(f"chaoskit/socat added latency {q}: {ratio}{aim}")
    print(f"chaoskit/socat throughput: {ours['mbps'] / theirs['mbps']:.2f}x (aim >= 0.5x)")


if __name__ == "__main__":
    main()
