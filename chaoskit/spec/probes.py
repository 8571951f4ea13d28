"""How a spec target asks a node who leads, and how it runs an HTTP client operation.

Status: an HTTP request whose JSON answer is read by dotted paths, a command whose
output is parsed, or a Python callable (imported with the spec file's folder first
on ``sys.path``; plain or ``async``). Client operations over HTTP map status codes to
outcomes; command operations are chaoskit/clients/command.py, client classes
chaoskit/clients/plugin.py.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaoskit.clients.plugin import import_object
from chaoskit.core.target import NodeInfo, Outcome, Status
from chaoskit.errors import ConfigError

if TYPE_CHECKING:
    import httpx


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


def split_http(text: str) -> tuple[str, str]:
    """``"GET /path"`` as method and path (the schema checked the shape)."""
    method, _, path = text.strip().partition(" ")
    return method.upper(), path


def load_python(ref: str, folder: Path, where: str) -> Callable[..., Any]:
    """The callable ``module:function``, imported with ``folder`` (the spec file's)
    first on ``sys.path``; a one-line ``ConfigError`` naming ``where`` otherwise."""
    fn = import_object(ref, folder=folder, head=f"{where}: python '{ref}'")
    if not callable(fn):
        raise ConfigError(f"{where}: python '{ref}' is not callable")
    return fn  # type: ignore[no-any-return]


@dataclass
class StatusProbe:
    """How to ask a node who leads (one of ``http``, ``command``, ``python``, sent to
    the named ``port``), and how to read the answer."""

    port: str
    http: tuple[str, str] | None = None
    command: list[str] | None = None
    python: Callable[..., Any] | None = None
    role: str | None = None
    is_leader: str | None = None
    leader: str | None = None
    term: str | None = None
    leader_values: list[str] = field(default_factory=lambda: ["leader"])
    candidate_values: list[str] = field(default_factory=lambda: ["candidate"])

    async def ask(
        self, http: httpx.AsyncClient, node: NodeInfo, timeout: float, values: dict[str, Any]
    ) -> Status:
        """The node's answer; raises when there is none (the observer records ``down``).
        ``values``: the node's placeholders, for a command."""
        port = node.ports[self.port]
        data: Any
        if self.http is not None:
            method, path = self.http
            resp = await http.request(method, f"http://{node.host}:{port}{path}", timeout=timeout)
            resp.raise_for_status()
            data = resp.json()
        elif self.command is not None:
            data = await _run_command([a.format(**values) for a in self.command], timeout)
        else:
            assert self.python is not None
            data = self.python(node.host, port, node.id)
            if inspect.isawaitable(data):
                data = await data
            if isinstance(data, Status):
                return data
        if not isinstance(data, Mapping):
            raise ValueError("status answer is not a JSON object")
        return self.interpret(data)

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


async def _run_command(argv: list[str], timeout: float) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except (TimeoutError, asyncio.CancelledError):
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"status command exited {proc.returncode}")
    return parse_status_output(out.decode(errors="replace"))


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


@dataclass
class HttpOp:
    """One client operation as an HTTP request to the node's first port."""

    method: str
    path: str
    body: str | None
    value: str | None
    fail_status: list[int]
    leader_field: str | None

    async def run(
        self, http: httpx.AsyncClient, node: NodeInfo, op: Mapping[str, Any], timeout: float
    ) -> Outcome:
        """2xx: ``ok``; a ``fail_status`` or a refused connection: ``fail``; anything
        else (another status, a time-out, a broken connection): ``info``."""
        import httpx as _httpx

        value = op.get("value")
        fields = {
            "key": op.get("key"),
            "value": json.dumps(value),
            "from": json.dumps(value[0]) if isinstance(value, list) else "null",
            "to": json.dumps(value[1]) if isinstance(value, list) else "null",
        }
        path = self.path.format(**{**fields, "value": value, "key": op.get("key")})
        body = self.body.format(**fields) if self.body else None
        try:
            resp = await http.request(
                self.method,
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
            return Outcome("ok", value=dotted(data, self.value) if self.value else None)
        if resp.status_code in self.fail_status:
            redirect = dotted(data, self.leader_field) if self.leader_field else None
            return Outcome(
                "fail",
                redirect=str(redirect) if redirect else None,
                error=f"HTTP {resp.status_code}",
            )
        return Outcome("info", error=f"HTTP {resp.status_code}")
