"""Target spec files: describe a leader-elected service in TOML, no Python needed.

A spec says how to start node i (an argv template, never a shell string), how to
ask a node who leads (an HTTP GET with a JSON field mapping, a command whose output
is parsed, or a Python callable), the split-brain policy, the election deadline, and
optionally the client operations a workload may call. ``load_spec_target`` validates
it field by field and builds a ``Target`` like any built-in one::

    name = "mysvc"
    policy = "strict"
    election_timeout = 1.0
    election_deadline = 5.0
    workloads = ["none", "register"]

    [launch]
    argv = ["mysvc", "--id", "{id}", "--listen", "{host}:{port}", "--data", "{data_dir}"]
    peer_argv = ["--peer", "{peer.id}={peer.host}:{peer.port}"]   # once per peer

    [status]
    http = "GET /status"
    role = "role"            # dotted JSON path; or is_leader = "is_leader"
    leader = "leader"
    term = "term"

    [ops.read]
    http = "GET /kv/{key}"
    value = "value"

docs/spec-files.md documents every field and placeholder.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from chaoskit.core.target import (
    POLICIES,
    Launch,
    NodeInfo,
    Outcome,
    Policy,
    ProxyMode,
    Status,
    TargetBase,
)
from chaoskit.errors import ConfigError

if TYPE_CHECKING:
    import httpx

NODE_FIELDS = {"id", "index", "host", "port", "peer_port", "data_dir", "peers", "cluster"}
PEER_FIELDS = {"peer"}
OP_NAMES = ("read", "write", "cas", "get", "put", "add", "read-set")
OP_FIELDS = {"key", "value", "from", "to"}
_TOP = {
    "name",
    "description",
    "policy",
    "election_timeout",
    "election_deadline",
    "proxy_mode",
    "workloads",
    "launch",
    "status",
    "ops",
    "docker",
}


class SpecError(ConfigError):
    """A spec file with a missing or mistyped field (the message names it)."""


def _get(
    table: Mapping[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    where: str,
    default: Any = ...,
) -> Any:
    if key not in table:
        if default is ...:
            raise SpecError(f"{where}: missing field '{key}'")
        return default
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise SpecError(f"{where}: field '{key}' must be {names}, not {type(value).__name__}")
    return value


def _no_unknown(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = set(table) - known
    if unknown:
        raise SpecError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")


def _str_list(table: Mapping[str, Any], key: str, where: str, default: Any = ...) -> list[str]:
    value = _get(table, key, list, where, default)
    if not all(isinstance(v, str) for v in value):
        raise SpecError(f"{where}: field '{key}' must be a list of strings")
    return list(value)


def _check_template(text: str, allowed: set[str], where: str) -> None:
    for _, name, _, _ in string.Formatter().parse(text):
        if name is None:
            continue
        root = name.split(".")[0].split("[")[0]
        if root not in allowed:
            raise SpecError(
                f"{where}: unknown placeholder '{{{name}}}' (known: {', '.join(sorted(allowed))})"
            )


def dotted(data: Any, path: str) -> Any:
    """``dotted({"a": {"b": 1}}, "a.b") == 1``; None when absent."""
    for part in path.split("."):
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


@dataclass
class StatusSpec:
    """How to ask a node who leads, and how to read the answer."""

    http: tuple[str, str] | None = None
    command: list[str] | None = None
    python: Callable[..., Any] | None = None
    role: str | None = None
    is_leader: str | None = None
    leader: str | None = None
    term: str | None = None
    leader_values: list[str] = field(default_factory=lambda: ["leader"])
    candidate_values: list[str] = field(default_factory=lambda: ["candidate"])

    def interpret(self, data: Mapping[str, Any]) -> Status:
        role = "follower"
        if self.is_leader is not None:
            role = "leader" if dotted(data, self.is_leader) in (True, "true", 1) else "follower"
        elif self.role is not None:
            raw = str(dotted(data, self.role))
            if raw in self.leader_values:
                role = "leader"
            elif raw in self.candidate_values:
                role = "candidate"
        leader = dotted(data, self.leader) if self.leader else None
        term = dotted(data, self.term) if self.term else None
        return Status(
            role=role,  # type: ignore[arg-type]
            term=int(term) if term is not None else None,
            leader=str(leader) if leader not in (None, "") else None,
        )


@dataclass
class OpSpec:
    """One client operation over HTTP."""

    method: str
    path: str
    body: str | None
    value: str | None
    fail_status: list[int]
    leader_field: str | None


def _parse_http(text: str, where: str) -> tuple[str, str]:
    method, _, path = text.strip().partition(" ")
    if method.upper() not in {"GET", "POST", "PUT", "DELETE", "PATCH"} or not path.startswith("/"):
        raise SpecError(f"{where}: 'http' must look like \"GET /path\", not {text!r}")
    return method.upper(), path


def _load_python(ref: str, where: str) -> Callable[..., Any]:
    module, _, attr = ref.partition(":")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise SpecError(f"{where}: cannot load python callable '{ref}': {exc}") from exc
    if not callable(fn):
        raise SpecError(f"{where}: '{ref}' is not callable")
    return fn  # type: ignore[no-any-return]


def placeholders(node: NodeInfo, peers: str = "", cluster: str = "") -> dict[str, Any]:
    """The ``{name}`` values a spec's command lines and environment may use for a node
    (``peers`` and ``cluster`` are empty in a status command)."""
    return {
        "id": node.id,
        "index": node.index,
        "host": node.host,
        "port": node.port,
        "peer_port": node.peer_port,
        "data_dir": str(node.data_dir),
        "peers": peers,
        "cluster": cluster,
    }


class SpecTarget(TargetBase):
    """A ``Target`` built from a spec file."""

    def __init__(self, spec: Mapping[str, Any], source: str) -> None:
        where = source
        _no_unknown(spec, _TOP, where)
        self.name: str = _get(spec, "name", str, where)
        self.description: str = _get(spec, "description", str, where, f"spec target {source}")
        policy = _get(spec, "policy", str, where, "strict")
        if policy not in POLICIES:
            raise SpecError(f"{where}: field 'policy' must be one of {', '.join(POLICIES)}")
        self.default_policy: Policy = policy
        proxy_mode = _get(spec, "proxy_mode", str, where, "pair")
        if proxy_mode not in ("pair", "destination"):
            raise SpecError(f"{where}: field 'proxy_mode' must be 'pair' or 'destination'")
        self.proxy_mode: ProxyMode = proxy_mode
        self.election_timeout: float = _get(spec, "election_timeout", float, where, 1.0)
        self.election_deadline: float = _get(
            spec, "election_deadline", float, where, 5 * self.election_timeout
        )
        for key in ("election_timeout", "election_deadline"):
            if not getattr(self, key) > 0:
                raise SpecError(f"{where}: field '{key}' must be positive")
        self.workloads: tuple[str, ...] = tuple(_str_list(spec, "workloads", where, ["none"]))
        self._launch(_get(spec, "launch", dict, where), f"{where} [launch]")
        self.status_spec = self._status(_get(spec, "status", dict, where), f"{where} [status]")
        self.ops = self._ops(_get(spec, "ops", dict, where, {}), f"{where} [ops]")
        missing = self._missing_ops()
        if missing:
            raise SpecError(f"{where}: workload(s) listed without their [ops]: {missing}")
        self._docker(_get(spec, "docker", dict, where, {}), f"{where} [docker]")
        self.options: dict[str, str] = {}

    def _docker(self, table: Mapping[str, Any], where: str) -> None:
        """``--runtime docker`` runs the nodes in ``image``, serving on container ``port``."""
        _no_unknown(table, {"image", "port"}, where)
        self.docker_image: str | None = _get(table, "image", str, where) if table else None
        if table and not self.docker_image:
            raise SpecError(f"{where}: field 'image' must not be empty")
        self.docker_port: int | None = _get(table, "port", int, where, None)
        if self.docker_port is not None and not 1 <= self.docker_port <= 65535:
            raise SpecError(f"{where}: field 'port' must be a TCP port, not {self.docker_port}")

    def _launch(self, table: Mapping[str, Any], where: str) -> None:
        _no_unknown(table, {"argv", "peer_argv", "env", "peer_format", "peer_separator"}, where)
        self.argv = _str_list(table, "argv", where)
        if not self.argv:
            raise SpecError(f"{where}: field 'argv' must not be empty")
        self.peer_argv = _str_list(table, "peer_argv", where, [])
        self.env: dict[str, str] = _get(table, "env", dict, where, {})
        if not all(isinstance(v, str) for v in self.env.values()):
            raise SpecError(f"{where}: field 'env' must map names to strings")
        self.peer_format: str = _get(
            table, "peer_format", str, where, "{peer.id}={peer.host}:{peer.port}"
        )
        self.peer_separator: str = _get(table, "peer_separator", str, where, ",")
        for item in [*self.argv, *self.env.values()]:
            _check_template(item, NODE_FIELDS, where)
        for item in [*self.peer_argv, self.peer_format]:
            _check_template(item, NODE_FIELDS | PEER_FIELDS, where)

    def _status(self, table: Mapping[str, Any], where: str) -> StatusSpec:
        spec = StatusSpec()
        _no_unknown(
            table,
            {
                "http",
                "command",
                "python",
                "role",
                "is_leader",
                "leader",
                "term",
                "leader_values",
                "candidate_values",
            },
            where,
        )
        ways = [k for k in ("http", "command", "python") if k in table]
        if len(ways) != 1:
            raise SpecError(f"{where}: give exactly one of 'http', 'command' or 'python'")
        if "http" in table:
            spec.http = _parse_http(_get(table, "http", str, where), where)
        if "command" in table:
            spec.command = _str_list(table, "command", where)
            for item in spec.command:
                _check_template(item, NODE_FIELDS, where)
        if "python" in table:
            spec.python = _load_python(_get(table, "python", str, where), where)
        for key in ("role", "is_leader", "leader", "term"):
            setattr(spec, key, _get(table, key, str, where, None))
        if spec.python is None and spec.role is None and spec.is_leader is None:
            raise SpecError(f"{where}: give 'role' or 'is_leader' (which field says it leads)")
        spec.leader_values = _str_list(table, "leader_values", where, ["leader"])
        spec.candidate_values = _str_list(table, "candidate_values", where, ["candidate"])
        return spec

    def _ops(self, table: Mapping[str, Any], where: str) -> dict[str, OpSpec]:
        ops: dict[str, OpSpec] = {}
        for name, op in table.items():
            w = f"{where}.{name}"
            if name not in OP_NAMES:
                raise SpecError(f"{w}: unknown operation (known: {', '.join(OP_NAMES)})")
            if not isinstance(op, dict):
                raise SpecError(f"{w}: must be a table")
            _no_unknown(op, {"http", "body", "value", "fail_status", "leader_field"}, w)
            method, path = _parse_http(_get(op, "http", str, w), w)
            body = _get(op, "body", str, w, None)
            for text in (path, body or ""):
                _check_template(text, OP_FIELDS, w)
            fail = _get(op, "fail_status", list, w, [409, 412, 421])
            ops[name] = OpSpec(
                method,
                path,
                body,
                _get(op, "value", str, w, None),
                [int(x) for x in fail],
                _get(op, "leader_field", str, w, "leader"),
            )
        return ops

    def _missing_ops(self) -> str:
        needs = {
            "register": ("read", "write", "cas"),
            "kv": ("get", "put"),
            "set": ("add", "read-set"),
        }
        missing = [w for w in self.workloads if any(op not in self.ops for op in needs.get(w, ()))]
        return ", ".join(missing)

    # -- the Target protocol ------------------------------------------------------------

    def configure(self, options: Mapping[str, str]) -> None:
        self.options = dict(options)

    def launch(self, node: NodeInfo, peers: Mapping[str, tuple[str, int]]) -> Launch:
        peer_objs = [
            SimpleNamespace(id=pid, host=h, port=p) for pid, (h, p) in sorted(peers.items())
        ]
        values = placeholders(
            node,
            peers=self.peer_separator.join(
                self.peer_format.format(peer=p) for p in peer_objs if p.id != node.id
            ),
            cluster=self.peer_separator.join(self.peer_format.format(peer=p) for p in peer_objs),
        )
        argv = [item.format(**values) for item in self.argv]
        for peer in peer_objs:
            if peer.id != node.id:
                argv += [item.format(peer=peer, **values) for item in self.peer_argv]
        env = {k: v.format(**values) for k, v in self.env.items()}
        return Launch(argv=argv, env=env)

    async def status(self, http: httpx.AsyncClient, node: NodeInfo, timeout: float) -> Status:
        spec = self.status_spec
        data: Any
        if spec.http is not None:
            resp = await http.request(spec.http[0], node.url + spec.http[1], timeout=timeout)
            resp.raise_for_status()
            data = resp.json()
        elif spec.command is not None:
            data = await self._run_status_command(node, timeout)
        else:
            assert spec.python is not None
            data = spec.python(node.host, node.port, node.id)
            if asyncio.iscoroutine(data):
                data = await data
            if isinstance(data, Status):
                return data
        if not isinstance(data, Mapping):
            raise ValueError("status answer is not a JSON object")
        return spec.interpret(data)

    async def _run_status_command(self, node: NodeInfo, timeout: float) -> Any:
        assert self.status_spec.command is not None
        argv = [a.format(**placeholders(node)) for a in self.status_spec.command]
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        if proc.returncode != 0:
            raise RuntimeError(f"status command exited {proc.returncode}")
        return parse_status_output(out.decode(errors="replace"))

    async def invoke(
        self, http: httpx.AsyncClient, node: NodeInfo, op: Mapping[str, Any], timeout: float
    ) -> Outcome:
        import httpx as _httpx

        spec = self.ops.get(op["f"])
        if spec is None:
            return Outcome("fail", error=f"operation {op['f']} not in the spec")
        value = op.get("value")
        fields = {
            "key": op.get("key"),
            "value": json.dumps(value),
            "from": json.dumps(value[0]) if isinstance(value, list) else "null",
            "to": json.dumps(value[1]) if isinstance(value, list) else "null",
        }
        path = spec.path.format(**{**fields, "value": value, "key": op.get("key")})
        body = spec.body.format(**fields) if spec.body else None
        try:
            resp = await http.request(
                spec.method,
                node.url + path,
                content=body,
                timeout=timeout,
                headers={"content-type": "application/json"},
            )
        except _httpx.ConnectError as exc:
            return Outcome("fail", error=f"connect: {exc}")
        except _httpx.HTTPError as exc:
            return Outcome("info", error=type(exc).__name__)
        try:
            data = resp.json()
        except ValueError:
            data = {}
        if resp.status_code < 300:
            return Outcome("ok", value=dotted(data, spec.value) if spec.value else None)
        if resp.status_code in spec.fail_status:
            redirect = dotted(data, spec.leader_field) if spec.leader_field else None
            return Outcome(
                "fail",
                redirect=str(redirect) if redirect else None,
                error=f"HTTP {resp.status_code}",
            )
        return Outcome("info", error=f"HTTP {resp.status_code}")


def parse_status_output(text: str) -> dict[str, Any]:
    """JSON, or ``key: value`` / ``key=value`` lines (as ZooKeeper's ``srvr`` prints)."""
    text = text.strip()
    if text.startswith("{"):
        data = json.loads(text)
        if isinstance(data, dict):
            return data
    out: dict[str, Any] = {}
    for line in text.splitlines():
        for sep in (":", "="):
            key, found, value = line.partition(sep)
            if found:
                out[key.strip()] = value.strip()
                break
    return out


def load_spec_target(path: Path) -> SpecTarget:
    """Read and validate a target spec file; a ``SpecError`` names what is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SpecError(f"no such target spec file: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror}") from exc
    return SpecTarget(data, str(path))
