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
import json
from collections.abc import Mapping
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
from chaoskit.spec.fields import SpecError, check_template, get, no_unknown, str_list
from chaoskit.spec.probes import (
    OpSpec,
    StatusSpec,
    dotted,
    load_python,
    parse_http,
    parse_status_output,
)
from chaoskit.store.files import read_toml

if TYPE_CHECKING:
    import httpx

NODE_FIELDS = {"id", "index", "host", "port", "peer_port", "data_dir", "peers", "cluster"}
PEER_FIELDS = {"peer"}
OP_NAMES = ("read", "write", "cas", "get", "put", "add", "read-set")
OP_FIELDS = {"key", "value", "from", "to"}
#: The longest election timeout or deadline a spec may give (TOML also reads ``inf``).
MAX_SECONDS = 86_400.0
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
        no_unknown(spec, _TOP, where)
        self.name: str = get(spec, "name", str, where)
        self.description: str = get(spec, "description", str, where, f"spec target {source}")
        policy = get(spec, "policy", str, where, "strict")
        if policy not in POLICIES:
            raise SpecError(f"{where}: field 'policy' must be one of {', '.join(POLICIES)}")
        self.default_policy: Policy = policy
        proxy_mode = get(spec, "proxy_mode", str, where, "pair")
        if proxy_mode not in ("pair", "destination"):
            raise SpecError(f"{where}: field 'proxy_mode' must be 'pair' or 'destination'")
        self.proxy_mode: ProxyMode = proxy_mode
        self.election_timeout: float = get(spec, "election_timeout", float, where, 1.0)
        self.election_deadline: float = get(
            spec, "election_deadline", float, where, 5 * self.election_timeout
        )
        for key in ("election_timeout", "election_deadline"):
            if not 0 < getattr(self, key) <= MAX_SECONDS:
                raise SpecError(f"{where}: field '{key}' must be positive, at most a day")
        self.workloads: tuple[str, ...] = tuple(str_list(spec, "workloads", where, ["none"]))
        self._launch(get(spec, "launch", dict, where), f"{where} [launch]")
        self.status_spec = self._status(get(spec, "status", dict, where), f"{where} [status]")
        self.ops = self._ops(get(spec, "ops", dict, where, {}), f"{where} [ops]")
        missing = self._missing_ops()
        if missing:
            raise SpecError(f"{where}: workload(s) listed without their [ops]: {missing}")
        self._docker(get(spec, "docker", dict, where, {}), f"{where} [docker]")

    def _docker(self, table: Mapping[str, Any], where: str) -> None:
        """``--runtime docker`` runs the nodes in ``image``, serving on container ``port``."""
        no_unknown(table, {"image", "port"}, where)
        self.docker_image: str | None = get(table, "image", str, where) if table else None
        if table and not self.docker_image:
            raise SpecError(f"{where}: field 'image' must not be empty")
        self.docker_port: int | None = get(table, "port", int, where, None)
        if self.docker_port is not None and not 1 <= self.docker_port <= 65535:
            raise SpecError(f"{where}: field 'port' must be a TCP port, not {self.docker_port}")

    def _launch(self, table: Mapping[str, Any], where: str) -> None:
        no_unknown(table, {"argv", "peer_argv", "env", "peer_format", "peer_separator"}, where)
        self.argv = str_list(table, "argv", where)
        if not self.argv:
            raise SpecError(f"{where}: field 'argv' must not be empty")
        self.peer_argv = str_list(table, "peer_argv", where, [])
        self.env: dict[str, str] = get(table, "env", dict, where, {})
        if not all(isinstance(v, str) for v in self.env.values()):
            raise SpecError(f"{where}: field 'env' must map names to strings")
        self.peer_format: str = get(
            table, "peer_format", str, where, "{peer.id}={peer.host}:{peer.port}"
        )
        self.peer_separator: str = get(table, "peer_separator", str, where, ",")
        for item in [*self.argv, *self.env.values()]:
            check_template(item, NODE_FIELDS, where)
        for item in [*self.peer_argv, self.peer_format]:
            check_template(item, NODE_FIELDS | PEER_FIELDS, where)

    def _status(self, table: Mapping[str, Any], where: str) -> StatusSpec:
        spec = StatusSpec()
        no_unknown(
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
            spec.http = parse_http(get(table, "http", str, where), where)
        if "command" in table:
            spec.command = str_list(table, "command", where)
            for item in spec.command:
                check_template(item, NODE_FIELDS, where)
        if "python" in table:
            spec.python = load_python(get(table, "python", str, where), where)
        for key in ("role", "is_leader", "leader", "term"):
            setattr(spec, key, get(table, key, str, where, None))
        if spec.python is None and spec.role is None and spec.is_leader is None:
            raise SpecError(f"{where}: give 'role' or 'is_leader' (which field says it leads)")
        spec.leader_values = str_list(table, "leader_values", where, ["leader"])
        spec.candidate_values = str_list(table, "candidate_values", where, ["candidate"])
        return spec

    def _ops(self, table: Mapping[str, Any], where: str) -> dict[str, OpSpec]:
        ops: dict[str, OpSpec] = {}
        for name, op in table.items():
            w = f"{where}.{name}"
            if name not in OP_NAMES:
                raise SpecError(f"{w}: unknown operation (known: {', '.join(OP_NAMES)})")
            if not isinstance(op, dict):
                raise SpecError(f"{w}: must be a table")
            no_unknown(op, {"http", "body", "value", "fail_status", "leader_field"}, w)
            method, path = parse_http(get(op, "http", str, w), w)
            body = get(op, "body", str, w, None)
            for text in (path, body or ""):
                check_template(text, OP_FIELDS, w)
            fail = get(op, "fail_status", list, w, [409, 412, 421])
            if not all(isinstance(x, int) and not isinstance(x, bool) for x in fail):
                raise SpecError(f"{w}: field 'fail_status' must be a list of HTTP statuses")
            ops[name] = OpSpec(
                method,
                path,
                body,
                get(op, "value", str, w, None),
                [int(x) for x in fail],
                get(op, "leader_field", str, w, "leader"),
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


def load_spec_target(path: Path) -> SpecTarget:
    """Read and validate a target spec file; a ``SpecError`` names what is wrong
    (a missing or non-regular file, non-UTF-8 text, bad or absurdly nested TOML too)."""
    return SpecTarget(read_toml(path, "target spec file", error=SpecError), str(path))
