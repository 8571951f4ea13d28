"""Target spec files: describe a leader-elected service in TOML, whatever it speaks.

A spec says how to start node i (an argv template, never a shell string) with the
named ports it listens on, how to ask a node who leads (an HTTP GET with a JSON field
mapping, a command whose output is parsed, or a Python callable), the split-brain
policy and election timing, what "started" means before the first fault, and how
a workload's operations reach the service: HTTP requests, commands, or a client class
(``[client] python = "module:Class"``, Jepsen-style ``open``/``invoke``/``close``).
``load_spec_target`` validates it (chaoskit/spec/schema.py for the shape, this module
for what ties tables together) and builds a ``Target`` like any built-in one::

    name = "mysvc"
    workloads = ["none", "register"]
    settle_s = 5.0

    [ports]
    client = { peer = false }     # chaoskit's status probe and clients
    peer = { peer = true }        # what peers dial: behind the fault proxies

    [launch]
    argv = ["mysvc", "--id", "{id}", "--client", "{host}:{ports.client}",
            "--peer", "{host}:{ports.peer}", "--peers", "{peers}"]

    [status]
    python = "mysvc_probe:status"

    [client]
    python = "mysvc_client:MyClient"

docs/spec-files.md documents every field and placeholder.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaoskit.clients.command import CommandOp
from chaoskit.clients.plugin import load_client_class
from chaoskit.clients.templates import (
    OP_FIELDS,
    Endpoint,
    check_template,
    endpoint_fields,
    node_fields,
    node_values,
)
from chaoskit.core.target import Launch, NodeInfo, Outcome, Peers, Port, Status, TargetBase
from chaoskit.spec.probes import HttpOp, StatusProbe, load_python, split_http
from chaoskit.spec.schema import (
    WORKLOAD_OPS,
    HttpOpTable,
    LaunchTable,
    SpecError,
    SpecFile,
    StatusTable,
    parse_spec,
    validate,
)
from chaoskit.store.files import read_toml

if TYPE_CHECKING:
    import httpx

__all__ = ["SpecError", "SpecTarget", "load_spec_target"]


def natural(node_id: str) -> tuple[int, str]:
    """Node ids in order: n2 before n10."""
    return (len(node_id), node_id)


class SpecTarget(TargetBase):
    """A ``Target`` built from a validated spec file; ``folder`` is the file's own."""

    def __init__(self, spec: SpecFile, source: str, folder: Path) -> None:
        self.source = source
        self.name = spec.name
        self.description = spec.description or f"spec target {source}"
        self.default_policy = spec.policy
        self.proxy_mode = spec.proxy_mode
        self.election_timeout = spec.election_timeout
        self.election_deadline = spec.election_deadline or 5 * spec.election_timeout
        self.workloads: tuple[str, ...] = tuple(spec.workloads)
        self.ready = spec.ready
        self.settle_s = spec.settle_s
        self.fault_s, self.heal_s = spec.fault_s, spec.heal_s
        self.ports = tuple(Port(name, table.peer) for name, table in spec.ports.items())
        self.peer_names = [p.name for p in self.ports if p.peer]
        if not self.peer_names:
            raise SpecError(f"{source} [ports]: no port has 'peer = true' (what peers dial)")
        #: Placeholders with one value for every node: the spec file's folder.
        self.constants = {"spec_dir": str(folder)}
        self.launch_table = self._check_launch(spec.launch, f"{source} [launch]")
        self.probe = self._probe(spec.status, folder, f"{source} [status]")
        self.client_class: type[Any] | None = None
        if spec.client is not None:
            where = f"{source} [client]"
            if spec.ops:
                raise SpecError(f"{where}: give a client class or [ops] tables, not both")
            self.client_class = load_client_class(spec.client.python, folder=folder, where=where)
        self.ops = {name: self._op(name, t) for name, t in spec.ops.items()}
        missing = [
            f"{w} ({', '.join(lacking)})"
            for w in self.workloads
            if (lacking := [op for op in WORKLOAD_OPS.get(w, ()) if op not in self.ops])
        ]
        if missing and self.client_class is None:
            raise SpecError(
                f"{source}: workload(s) listed without their [ops] or a [client]: "
                + ", ".join(missing)
            )
        self.docker_image = spec.docker.image if spec.docker else None
        self.docker_port = spec.docker.port if spec.docker else None
        if spec.docker and (len(self.ports) > 1 or self.proxy_mode != "pair"):
            raise SpecError(
                f"{source} [docker]: containers run spec targets with one port in pair "
                f"mode (this one: ports {', '.join(spec.ports)}, {self.proxy_mode} mode)"
            )

    # -- validation across tables ------------------------------------------------------

    def _node_fields(self, *extra: str) -> set[str]:
        return node_fields([p.name for p in self.ports], [*self.constants, *extra])

    def _check_launch(self, table: LaunchTable, where: str) -> LaunchTable:
        """Every placeholder of the launch templates exists: node ones everywhere,
        ``{self}`` only in destination mode (in pair mode each peer reaches a node at a
        proxy of its own, so there is no one address to advertise), ``{peer...}``
        only where a peer is being written."""
        node = self._node_fields("peers", "cluster")
        if self.proxy_mode == "destination":
            node |= endpoint_fields("self", self.peer_names)
        elif any(_uses(t, "self") for t in [*table.argv, *table.env.values(), *table.peer_argv]):
            raise SpecError(
                f'{where}: {{self}} needs proxy_mode = "destination": in pair mode each peer '
                "reaches a node at a proxy of its own, so it has no one address to advertise"
            )
        peer = (node - {"peers", "cluster"}) | endpoint_fields("peer", self.peer_names)
        for key, items in (("argv", table.argv), ("env", list(table.env.values()))):
            for item in items:
                check_template(item, node, f"{where} {key}")
        for item in table.peer_argv:
            check_template(item, node | peer, f"{where} peer_argv")
        check_template(table.peer_format, peer, f"{where} peer_format")
        return table

    def _probe(self, table: StatusTable, folder: Path, where: str) -> StatusProbe:
        port = table.port or self.ports[0].name
        if port not in {p.name for p in self.ports}:
            raise SpecError(f"{where}: field 'port': no port '{port}' in [ports]")
        for item in table.command or []:
            check_template(item, self._node_fields(), f"{where} command")
        return StatusProbe(
            port=port,
            http=split_http(table.http) if table.http else None,
            command=list(table.command) if table.command else None,
            python=load_python(table.python, folder, where) if table.python else None,
            role=table.role,
            is_leader=table.is_leader,
            leader=table.leader,
            term=table.term,
            leader_values=list(table.leader_values),
            candidate_values=list(table.candidate_values),
        )

    def _op(self, name: str, table: Mapping[str, Any]) -> HttpOp | CommandOp:
        where = f"{self.source} [ops.{name}]"
        if "command" in table:
            return CommandOp.from_table(
                table, where, ports=[p.name for p in self.ports], constants=self.constants
            )
        http = validate(HttpOpTable, table, where)
        method, path = split_http(http.http)
        for key, text in (("http", path), ("body", http.body or "")):
            check_template(text, set(OP_FIELDS), f"{where} {key}")
        return HttpOp(
            method, path, http.body, http.value, list(http.fail_status), http.leader_field
        )

    # -- the Target protocol ------------------------------------------------------------

    def launch(self, node: NodeInfo, peers: Peers) -> Launch:
        table = self.launch_table
        endpoints = {pid: Endpoint(pid, peers[pid]) for pid in sorted(peers, key=natural)}
        others = [e for pid, e in endpoints.items() if pid != node.id]
        values = node_values(node, self.constants)
        if self.proxy_mode == "destination":
            values["self"] = endpoints[node.id]

        def entry(peer: Endpoint) -> str:
            return table.peer_format.format(peer=peer, **values)

        values["peers"] = table.peer_separator.join(entry(e) for e in others)
        values["cluster"] = table.peer_separator.join(entry(e) for e in endpoints.values())
        argv = [item.format(**values) for item in table.argv]
        for peer in others:
            argv += [item.format(peer=peer, **values) for item in table.peer_argv]
        env = {k: v.format(**values) for k, v in table.env.items()}
        return Launch(argv=argv, env=env)

    async def status(self, http: httpx.AsyncClient, node: NodeInfo, timeout: float) -> Status:
        return await self.probe.ask(http, node, timeout, node_values(node, self.constants))

    async def invoke(
        self, http: httpx.AsyncClient, node: NodeInfo, op: Mapping[str, Any], timeout: float
    ) -> Outcome:
        spec = self.ops.get(op["f"])
        if spec is None:
            return Outcome("fail", error=f"operation {op['f']} not in {self.source}")
        if isinstance(spec, CommandOp):
            return await spec.run(node, op, timeout)
        return await spec.run(http, node, op, timeout)

    def client(self) -> Any:
        """A fresh object of the spec's client class, or None (ops go to ``invoke``)."""
        return self.client_class() if self.client_class is not None else None


def _uses(text: str, root: str) -> bool:
    """Whether the template ``text`` has a placeholder under ``root`` (``{self.host}``)."""
    try:
        names = [n for _, n, _, _ in string.Formatter().parse(text) if n]
    except ValueError:
        return False  # malformed: check_template says so
    return any(n == root or n.startswith(root + ".") for n in names)


def load_spec_target(path: Path) -> SpecTarget:
    """Read and validate a target spec file; a ``ConfigError`` names what is wrong (a
    missing or non-regular file, non-UTF-8 text, bad or absurdly nested TOML too)."""
    data = read_toml(path, "target spec file", error=SpecError)
    return SpecTarget(parse_spec(data, str(path)), str(path), path.parent.resolve())
