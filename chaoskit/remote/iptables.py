"""iptables rules on hosts, each carrying the run's id, and netem for latency.

A directed link ``src -> dst`` is faulted on ``dst``: rules inserted at the top of
its INPUT chain match packets from ``src``'s address travelling in the ORIGINAL
direction of their connection (connections ``src`` opened), TCP and UDP alike, the
shapes of chaoskit/network/iptables.py. So cutting ``a -> b`` stops a's requests
to b and leaves b's own connections to a alone. The controller's SSH connections,
its tunnels (which arrive from the host itself) and its direct requests (from its
own address) never match.

Every rule carries ``-m comment --comment chaoskit:<run_id>:<src>:<dst>:<kind>``:
healing and ``cleanup_inventory`` list ``iptables -S`` and delete exactly the rules
whose comment names the run, so a run never touches another run's rules or the
host's own firewall, and a killed controller's rules can be found afterwards.

Rules are inserted (``-I``), not appended: a host firewall that accepts established
traffic early in INPUT would otherwise shadow them.
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from chaoskit.errors import ConfigError, SetupError
from chaoskit.network.iptables import link_rules as base_rules
from chaoskit.remote.ssh import SshPool, shell

Rule = list[str]
COMMENT_PREFIX = "chaoskit"
CHAIN = "INPUT"
LOCK_WAIT = ["-w", "5"]
NETEM_UNKNOWN = ("Specified qdisc kind is unknown", "Unknown qdisc", "unknown qdisc")


def comment(run_id: str, src: str, dst: str, kind: str) -> str:
    """The mark of one rule: ``chaoskit:<run>:<src>:<dst>:<kind>`` (no spaces)."""
    text = f"{COMMENT_PREFIX}:{run_id}:{src}:{dst}:{kind}"
    if any(c.isspace() or c in "\"'\\" for c in text) or len(text) > 255:
        raise ConfigError(f"cannot mark an iptables rule with {text!r}")
    return text


def kind_of(mode: str) -> str:
    """``cut``, ``hang`` or ``loss`` (a loss mode is ``loss:<probability>``)."""
    return mode.split(":", 1)[0]


def marked_rules(src_ip: str, mode: str, mark: str) -> list[Rule]:
    """The INPUT rules (after ``-I INPUT``) for one link fault, each with ``mark``."""
    rules = []
    for rule in base_rules(src_ip, mode):
        at = rule.index("-j")
        rules.append([*rule[:at], "-m", "comment", "--comment", mark, *rule[at:]])
    return rules


def binary_for(address: str) -> str:
    """``iptables`` for IPv4 sources, ``ip6tables`` for IPv6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError as exc:
        raise ConfigError(f"{address!r} is not an IP address") from exc
    return "ip6tables" if ip.version == 6 else "iptables"


@dataclass(frozen=True)
class ListedRule:
    """One rule of ``iptables -S`` that carries a chaoskit mark."""

    binary: str
    run_id: str
    spec: list[str]  # as listed, after "-A"

    def delete(self) -> list[str]:
        return [self.binary, *LOCK_WAIT, "-D", *self.spec]


def parse_listing(listing: str, binary: str = "iptables") -> list[ListedRule]:
    """The chaoskit-marked rules in the output of ``iptables -S``."""
    found = []
    for line in listing.splitlines():
        if not line.startswith("-A "):
            continue
        try:
            tokens = shlex.split(line)
        except ValueError:
            continue
        mark = _comment_of(tokens)
        if mark is None or not mark.startswith(f"{COMMENT_PREFIX}:"):
            continue
        parts = mark.split(":")
        if len(parts) >= 3 and parts[1]:
            found.append(ListedRule(binary=binary, run_id=parts[1], spec=tokens[1:]))
    return found


def _comment_of(tokens: list[str]) -> str | None:
    for i, token in enumerate(tokens[:-1]):
        if token == "--comment":
            return tokens[i + 1]
    return None


async def insert(pool: SshPool, host: str, binary: str, rule: Rule) -> None:
    await pool.run(host, [binary, *LOCK_WAIT, "-I", CHAIN, *rule], sudo=True)


async def delete(pool: SshPool, host: str, binary: str, rule: Rule) -> None:
    """Delete one rule; one already gone (a cleanup got there first) is fine."""
    result = await pool.run(host, [binary, *LOCK_WAIT, "-D", CHAIN, *rule], sudo=True, check=False)
    if result.exit_status not in (0, 1):
        raise SetupError(f"host {host}: {binary} -D failed: {result.last_error}")


async def listed(pool: SshPool, host: str) -> list[ListedRule]:
    """Every chaoskit-marked rule on ``host`` (IPv4, and IPv6 where ip6tables exists)."""
    found = []
    for binary in ("iptables", "ip6tables"):
        result = await pool.run(
            host,
            shell(f"command -v {binary} >/dev/null 2>&1 || exit 0; {binary} -w 5 -S"),
            sudo=True,
            check=binary == "iptables",
        )
        if result.exit_status == 0:
            found += parse_listing(result.stdout, binary)
    return found


async def remove_run_rules(pool: SshPool, host: str, run_ids: Iterable[str]) -> list[str]:
    """Delete every rule marked with one of ``run_ids``; one line per rule removed."""
    wanted = set(run_ids)
    removed = []
    for rule in await listed(pool, host):
        if rule.run_id in wanted:
            result = await pool.run(host, rule.delete(), sudo=True, check=False)
            if result.exit_status == 0:
                removed.append(f"removed {rule.binary} rule of run {rule.run_id} on {host}")
    return removed


# -- latency: netem, where the host's kernel has it ------------------------------------


def no_netem(host: str) -> str:
    return (
        f"host {host}: the kernel has no netem (sch_netem), so latency cannot be added "
        "there (modprobe sch_netem, or use the proxy network for latency)"
    )


async def has_netem(pool: SshPool, host: str) -> bool:
    """Whether ``host``'s kernel can add a netem qdisc.

    The probe adds one where it disturbs nothing: on the loopback of a throw-away
    network namespace (``unshare -n``), else on ``lo`` for an instant (a default
    ``lo`` has no qdisc, and the probe deletes what it added).
    """
    probe = (
        "if command -v unshare >/dev/null 2>&1 && unshare -n true 2>/dev/null; then "
        "exec unshare -n tc qdisc add dev lo root netem delay 0ms; fi; "
        "tc qdisc add dev lo root netem delay 0ms && tc qdisc del dev lo root"
    )
    await pool.require(host, ["tc"], sudo=True)
    result = await pool.run(host, shell(probe), sudo=True, check=False)
    if result.exit_status == 0:
        return True
    if any(text in result.stderr for text in NETEM_UNKNOWN):
        return False
    raise SetupError(f"host {host}: cannot probe for netem: {result.last_error}")


def netem_script(device: str, delays: dict[str, tuple[int, int]]) -> str:
    """Replace ``device``'s root qdisc by a prio qdisc whose fourth band delays packets
    to the addresses in ``delays`` (one latency and jitter for the whole host).

    >>> print(netem_script("eth0", {"10.0.0.2": (100, 10)}))  # doctest: +NORMALIZE_WHITESPACE
    tc qdisc replace dev eth0 root handle 1: prio bands 4 priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1
    tc qdisc add dev eth0 parent 1:4 handle 40: netem delay 100ms 10ms
    tc filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst 10.0.0.2/32 flowid 1:4
    """
    settings = set(delays.values())
    if len(settings) != 1:
        raise ConfigError("links from one host can only share one latency and jitter at a time")
    latency, jitter = settings.pop()
    dev = shlex.quote(device)
    lines = [
        f"tc qdisc replace dev {dev} root handle 1: prio bands 4 "
        "priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1",
        f"tc qdisc add dev {dev} parent 1:4 handle 40: netem delay {latency}ms {jitter}ms",
    ]
    for address in sorted(delays):
        ip = ipaddress.ip_address(address)
        proto, match = ("ipv6", "ip6") if ip.version == 6 else ("ip", "ip")
        width = 128 if ip.version == 6 else 32
        lines.append(
            f"tc filter add dev {dev} parent 1: protocol {proto} prio 1 u32 "
            f"match {match} dst {ip}/{width} flowid 1:4"
        )
    return "\n".join(lines)


async def route_device(pool: SshPool, host: str, address: str) -> str:
    """The interface ``host`` sends packets for ``address`` through."""
    result = await pool.run(host, ["ip", "-o", "route", "get", address])
    words = result.stdout.split()
    if "dev" not in words or words.index("dev") + 1 >= len(words):
        raise SetupError(f"host {host}: no route to {address}: {result.stdout.strip()}")
    return words[words.index("dev") + 1]
