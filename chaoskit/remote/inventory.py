"""The inventory: which hosts the nodes run on and how to reach them over SSH.

A TOML file (``--inventory FILE``) or the same keys in the ``[ssh]`` table of a target
spec. Keys at the top level are defaults for every host; each ``[[hosts]]`` entry
names one host and may override any of them::

    user = "chaos"                       # SSH user (default root)
    key_file = "~/.ssh/chaos_ed25519"    # private key; or agent = true (ssh-agent)
    known_hosts = "known_hosts"          # host keys to trust (default ~/.ssh/known_hosts)
    # strict_host_keys = false           # explicit opt-out: accept any host key
    data_dir = "/var/tmp/chaoskit"       # where runs keep files on the host (absolute)
    sudo = true                          # privileged commands through `sudo -n` (else root)
    node_port = 8000                     # the port each node serves on
    python = "python3"                   # interpreter for Python targets on the host
    tunnel = false                       # reach nodes through SSH port forwarding
    host_clock = false                   # allow clock faults to step the host clock

    [[hosts]]
    name = "db1"
    address = "db1.staging.example"     # where SSH connects
    node_host = "10.0.0.11"              # the address peers use (default: address)

Relative paths are taken from the file's directory, ``~`` from the user's home.
Every field is checked when the inventory loads; an error names the file, the host
and the field in one line (``ConfigError``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from chaoskit.errors import ConfigError

DEFAULT_DATA_DIR = "/var/tmp/chaoskit"
#: The table of a target spec file that holds its inventory.
SPEC_TABLE = "ssh"
DEFAULT_NODE_PORT = 8000
#: Names end up in file names, rule comments and log lines: keep them plain.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
#: Keys allowed at the top level as defaults, and in every host.
_SHARED: dict[str, type | tuple[type, ...]] = {
    "port": int,
    "user": str,
    "key_file": str,
    "agent": bool,
    "known_hosts": str,
    "strict_host_keys": bool,
    "data_dir": str,
    "sudo": bool,
    "node_port": int,
    "python": str,
    "tunnel": bool,
    "host_clock": bool,
    "libfaketime": str,
    "connect_timeout": (int, float),
    "command_timeout": (int, float),
}
_HOST_ONLY: dict[str, type | tuple[type, ...]] = {"name": str, "address": str, "node_host": str}


@dataclass(frozen=True)
class Host:
    """One machine nodes run on, and how chaoskit reaches and uses it."""

    name: str
    address: str
    port: int = 22
    user: str = "root"
    key_file: Path | None = None
    agent: bool = False
    known_hosts: Path | None = None
    strict_host_keys: bool = True
    data_dir: str = DEFAULT_DATA_DIR
    sudo: bool = False
    node_host: str = ""
    node_port: int = DEFAULT_NODE_PORT
    python: str = "python3"
    tunnel: bool = False
    host_clock: bool = False
    #: libfaketime on the host; found in the usual places when empty.
    libfaketime: str = ""
    connect_timeout: float = 10.0
    command_timeout: float = 30.0

    @property
    def peer_address(self) -> str:
        """The address other nodes dial, and the source address of this host's packets."""
        return self.node_host or self.address

    @property
    def login(self) -> str:
        """``user@address:port``, for messages."""
        return f"{self.user}@{self.address}:{self.port}"


@dataclass(frozen=True)
class Inventory:
    """The hosts of an inventory, in file order, and where they were read from."""

    hosts: tuple[Host, ...]
    source: str = "inventory"

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        known = ", ".join(h.name for h in self.hosts)
        raise ConfigError(f"{self.source}: no host '{name}' (known: {known})")

    @property
    def names(self) -> list[str]:
        return [h.name for h in self.hosts]


def load_inventory(path: Path, *, table: str | None = None) -> Inventory:
    """Read and validate an inventory file, or the ``[table]`` of a file (a target
    spec's ``[ssh]``)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read inventory {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    if table is None:
        return parse_inventory(data, source=str(path), base_dir=path.parent)
    section = data.get(table)
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: no [{table}] table (the hosts of --runtime ssh)")
    return parse_inventory(section, source=f"{path} [{table}]", base_dir=path.parent)


def run_inventory(inventory: Path | None, target: object) -> Inventory:
    """The hosts of a run: the ``--inventory`` file, else the ``[ssh]`` table of the
    target spec file ``target``."""
    if inventory is not None:
        return load_inventory(inventory)
    if isinstance(target, str) and target.endswith(".toml"):
        return load_inventory(Path(target), table=SPEC_TABLE)
    raise ConfigError("--runtime ssh needs --inventory FILE (or a target spec with an [ssh] table)")


def parse_inventory(
    table: Mapping[str, Any], *, source: str = "inventory", base_dir: Path | None = None
) -> Inventory:
    """Validate an inventory given as a table (a file's, or a target spec's ``[ssh]``)."""
    base = base_dir if base_dir is not None else Path.cwd()
    unknown = set(table) - set(_SHARED) - {"hosts"}
    if unknown:
        raise ConfigError(f"{source}: unknown field(s) {', '.join(sorted(unknown))}")
    defaults = {k: _typed(table, k, _SHARED[k], source) for k in _SHARED if k in table}
    hosts = table.get("hosts")
    if not isinstance(hosts, list) or not hosts:
        raise ConfigError(f"{source}: needs at least one [[hosts]] entry (name, address)")
    parsed: list[Host] = []
    for i, entry in enumerate(hosts):
        where = f"{source}: hosts[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a table, not {type(entry).__name__}")
        parsed.append(_host({**defaults, **entry}, where, base))
    _unique(parsed, "name", source)
    _unique(parsed, "peer_address", source)
    return Inventory(hosts=tuple(parsed), source=source)


def _host(entry: Mapping[str, Any], where: str, base: Path) -> Host:
    known = {**_SHARED, **_HOST_ONLY}
    unknown = set(entry) - set(known)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    values = {k: _typed(entry, k, known[k], where) for k in known if k in entry}
    if "name" not in values:
        raise ConfigError(f"{where}: missing field 'name'")
    name = values["name"]
    if not _NAME.match(name):
        raise ConfigError(
            f"{where}: field 'name' must be letters, digits, '.', '_' or '-' "
            f"(at most 63), not {name!r}"
        )
    where = f"{where} ({name})"
    if "address" not in values:
        raise ConfigError(f"{where}: missing field 'address'")
    for key in ("address", "user", "node_host", "python"):
        if key in values and (not values[key].strip() or any(c.isspace() for c in values[key])):
            raise ConfigError(f"{where}: field '{key}' must be a non-empty word")
    for key in ("port", "node_port"):
        if key in values and not 1 <= values[key] <= 65535:
            raise ConfigError(f"{where}: field '{key}' must be a port (1-65535), not {values[key]}")
    for key in ("connect_timeout", "command_timeout"):
        if key in values:
            values[key] = float(values[key])
            if not values[key] > 0:
                raise ConfigError(f"{where}: field '{key}' must be positive seconds")
    for key in ("data_dir", "libfaketime"):
        if key in values and not PurePosixPath(values[key]).is_absolute():
            raise ConfigError(f"{where}: field '{key}' must be an absolute path on the host")
    if "data_dir" in values and PurePosixPath(values["data_dir"]) == PurePosixPath("/"):
        raise ConfigError(f"{where}: field 'data_dir' cannot be /")
    for key in ("key_file", "known_hosts"):
        if key in values:
            values[key] = _local_file(values[key], key, where, base)
    if "known_hosts" in values and values.get("strict_host_keys") is False:
        raise ConfigError(
            f"{where}: 'known_hosts' and 'strict_host_keys = false' contradict each other"
        )
    return Host(**values)


def _typed(table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = table[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) != (bool in kinds) or not isinstance(value, kinds):
        names = "/".join({int: "integer", float: "number"}.get(k, k.__name__) for k in kinds)
        raise ConfigError(f"{where}: field '{key}' must be {names}, not {type(value).__name__}")
    return value


def _local_file(value: str, key: str, where: str, base: Path) -> Path:
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise ConfigError(f"{where}: field '{key}': no such file {path}")
    return path


def _unique(hosts: Sequence[Host], attr: str, source: str) -> None:
    seen: dict[str, str] = {}
    for host in hosts:
        value = str(getattr(host, attr))
        if value in seen:
            label = "name" if attr == "name" else "node address"
            raise ConfigError(
                f"{source}: hosts {seen[value]} and {host.name} have the same {label} {value!r}"
            )
        seen[value] = host.name
