"""Who may use the fault API and what they may ask of it: pure checks, no I/O.

A ``Policy`` answers five questions for the HTTP guard and the registry:

- ``host_problem``: is this ``Host`` header one of ours? Loopback names and
  addresses (``localhost``, 127.0.0.0/8, ``::1``) always are, plus the names the server
  was told about. The port is not compared: a browser always sends the port of the
  URL it was given, so only the *name* tells a DNS-rebinding page (``evil.example``
  resolving to 127.0.0.1) from a real client, while port forwarding (Docker's
  published ports, ``ssh -L``) legitimately changes the port.
- ``origin_problem``: browsers send ``Origin`` on every cross-site request and on
  every POST; no Toxiproxy client does. So a request with an ``Origin`` that was not
  explicitly allowed is refused.
- ``check_listen``: a proxy (or the API itself) may listen on loopback only, unless
  remote listening was explicitly allowed (the Docker proxy container, where
  ``0.0.0.0`` is the container's own network).
- ``check_upstream`` / ``address_allowed``: link-local and cloud metadata addresses
  are refused as upstreams unless explicitly allowed (a relay to
  169.254.169.254 hands the machine's cloud credentials to whoever reaches the
  relay); with an allow-list, only loopback and the listed networks or names are.
- ``client_allowed``: with ``allow_clients``, only peers from those networks may
  talk to the API at all (the Docker runtime: loopback and the run network's
  gateway, through which the published port arrives; never the nodes).
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from chaoskit.errors import ConfigError, ProxyError
from chaoskit.proxy._model import split_hostport

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Link-local ranges (cloud metadata lives at 169.254.169.254) and the metadata
#: addresses outside them: AWS's IPv6 endpoint and Alibaba Cloud's.
METADATA_NETWORKS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
    ipaddress.ip_network("100.100.100.200/32"),
)
LOOPBACK_NAMES = frozenset({"localhost"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def parse_ip(host: str) -> IPAddress | None:
    """``host`` as an IP address (IPv4-mapped IPv6 unwrapped), or None for a name."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def normal_name(host: str) -> str:
    """A host name as compared here: lower case, no trailing dot, no brackets."""
    return host.strip().strip("[]").rstrip(".").lower()


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (names other than localhost may resolve
    anywhere, so they are not loopback here)."""
    address = parse_ip(host)
    if address is not None:
        return address.is_loopback
    return normal_name(host) in LOOPBACK_NAMES


def is_metadata(address: IPAddress) -> bool:
    return any(address in network for network in METADATA_NETWORKS)


def host_of_header(value: str) -> str | None:
    """The host part of a ``Host`` header (``name``, ``name:port``, ``[v6]:port``)."""
    value = value.strip()
    if not value:
        return None
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else None
    name, sep, port = value.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        return name
    return value if ":" not in value or parse_ip(value) is not None else None


def parse_network(text: str) -> IPNetwork:
    """A CIDR network or a single address; ConfigError otherwise."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ConfigError(f"'{text}' is not an IP network (CIDR) or address") from None


@dataclass(frozen=True)
class Policy:
    """What the API accepts beyond loopback clients creating loopback relays.

    ``allow_upstreams=None`` allows any upstream but metadata ones; a tuple (even
    empty) allows only loopback plus its entries: CIDR networks, or host names with
    ``*`` wildcards (``ck-run1-*``).
    """

    allow_hosts: frozenset[str] = frozenset()
    allow_origins: frozenset[str] = frozenset()
    allow_remote_listen: bool = False
    allow_upstreams: tuple[str, ...] | None = None
    allow_metadata_upstream: bool = False
    allow_clients: tuple[IPNetwork, ...] | None = None
    _networks: tuple[IPNetwork, ...] = field(default=(), init=False, repr=False)
    _names: tuple[str, ...] = field(default=(), init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "allow_hosts", frozenset(normal_name(h) for h in self.allow_hosts))
        object.__setattr__(self, "allow_origins", frozenset(self.allow_origins))
        networks, names = [], []
        for entry in self.allow_upstreams or ():
            if parse_ip(entry.split("/")[0]) is not None:
                networks.append(parse_network(entry))
            else:
                names.append(normal_name(entry))
        object.__setattr__(self, "_networks", tuple(networks))
        object.__setattr__(self, "_names", tuple(names))

    @classmethod
    def build(
        cls,
        *,
        allow_hosts: Iterable[str] = (),
        allow_origins: Iterable[str] = (),
        allow_remote_listen: bool = False,
        allow_upstreams: Iterable[str] | None = None,
        allow_metadata_upstream: bool = False,
        allow_clients: Iterable[str] | None = None,
    ) -> Policy:
        """A policy from plain strings (command-line values); ConfigError if malformed."""
        return cls(
            allow_hosts=frozenset(allow_hosts),
            allow_origins=frozenset(o.rstrip("/") for o in allow_origins),
            allow_remote_listen=allow_remote_listen,
            allow_upstreams=None if allow_upstreams is None else tuple(allow_upstreams),
            allow_metadata_upstream=allow_metadata_upstream,
            allow_clients=None
            if allow_clients is None
            else tuple(parse_network(c) for c in allow_clients),
        )

    def with_host(self, host: str) -> Policy:
        """This policy, also accepting ``Host: host`` (the address the API is bound to,
        unless it is a wildcard, which names no one)."""
        if normal_name(host) in WILDCARDS:
            return self
        return replace(self, allow_hosts=self.allow_hosts | {normal_name(host)})

    # -- who is asking -----------------------------------------------------------------
    def client_allowed(self, peer: str | None) -> bool:
        if self.allow_clients is None:
            return True
        address = parse_ip(peer or "")
        return address is not None and any(address in net for net in self.allow_clients)

    def host_problem(self, header: str | None) -> str | None:
        """Why this ``Host`` header is refused, or None when it is fine."""
        host = host_of_header(header or "")
        if host is None:
            return "missing or malformed Host header"
        if is_loopback(host) or normal_name(host) in self.allow_hosts:
            return None
        return f"Host '{host}' is not served here (allow it explicitly)"

    def origin_problem(self, origin: str | None) -> str | None:
        if origin is None or origin.rstrip("/") in self.allow_origins:
            return None
        return f"Origin '{origin}' is not allowed (browser pages may not drive the fault API)"

    # -- what they ask for ---------------------------------------------------------------
    def check_listen(self, listen: str) -> None:
        """ProxyError 403 for a non-loopback listen address without permission."""
        host, _ = split_hostport(listen, what="listen", allow_port_zero=True)
        if self.allow_remote_listen or is_loopback(host):
            return
        raise ProxyError(
            f"listen address {listen} is not loopback: refused "
            "(the server was not started with remote listening allowed)",
            status=403,
        )

    def check_upstream(self, upstream: str) -> None:
        """ProxyError 403 for an upstream the policy refuses (checked before any change)."""
        host, _ = split_hostport(upstream, what="upstream", allow_port_zero=False)
        address = parse_ip(host)
        if address is not None and not self.address_allowed(address):
            raise ProxyError(f"upstream {upstream} is not allowed here", status=403)
        if address is None and not self.name_allowed(host):
            raise ProxyError(f"upstream {upstream} is not allowed here", status=403)

    def name_allowed(self, host: str) -> bool:
        """A host-name upstream: any (resolved later) unless an allow-list names it."""
        if self.allow_upstreams is None or is_loopback(host):
            return True
        name = normal_name(host)
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self._names)

    def address_allowed(self, address: IPAddress | str) -> bool:
        """An upstream address, literal or resolved at connect time."""
        ip = parse_ip(address) if isinstance(address, str) else address
        if ip is None:
            return False
        if any(ip in net for net in self._networks):
            return True  # listed explicitly: even a metadata range is then intended
        if is_metadata(ip) and not self.allow_metadata_upstream:
            return False
        return self.allow_upstreams is None or ip.is_loopback

    def resolved_allowed(self, address: IPAddress | str) -> bool:
        """An address that a permitted upstream *name* resolved to when connecting:
        only the metadata rule applies (the name itself was allowed), so a name such
        as ``metadata.google.internal`` cannot smuggle 169.254.169.254 in."""
        ip = parse_ip(address) if isinstance(address, str) else address
        if ip is None:
            return False
        if any(ip in net for net in self._networks):
            return True
        return self.allow_metadata_upstream or not is_metadata(ip)

    def resolved_check_needed(self, upstream_host: str) -> bool:
        """Whether a name's resolved addresses must be checked when connecting."""
        return parse_ip(upstream_host) is None and not self.allow_metadata_upstream
