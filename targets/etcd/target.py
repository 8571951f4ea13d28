"""``EtcdTarget``: a real etcd 3.4 cluster, observed through each member's status.

Leadership comes from ``POST /v3/maintenance/status``: a member leads when the
``leader`` it reports is its own ``member_id``. The reported ``raftTerm`` is the term
of the last *applied* entry, not raft's current term: a new leader reports its
predecessor's term until its first entry commits, which would look like two leaders
in one term. So a member claiming leadership is asked a linearizable read first (it
completes only once the leader has committed in its own term) and its status again
after it; if the read cannot complete (a stale, isolated leader), the first answer
stands: that member really is the leader of the term it reports. Client
operations go through the JSON gateway (``register``: range, put, and txn for
compare-and-set; ``kv``: range and put). Reads are etcd's default linearizable
reads, so a deposed leader cannot serve a stale one without the checker seeing it.

Options (``-o key=value``): ``heartbeat-ms`` (100), ``election-ms`` (1000),
``pre-vote`` (true; without it an isolated member disrupts the cluster on heal),
``binary`` (etcd).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from chaoskit.core.plugins import unknown_message
from chaoskit.core.target import Launch, NodeInfo, Outcome, Peers, Port, Status, TargetBase
from chaoskit.errors import ConfigError
from chaoskit.targets._options import positive_int, switch
from chaoskit.targets.etcd import _gateway as gw
from chaoskit.targets.etcd._command import Timing, find_binary, member_argv

#: The key the leadership confirmation reads (never written).
PROBE_KEY = "chaoskit/leader-probe"
OPTIONS = ("heartbeat-ms", "election-ms", "pre-vote", "binary")


class EtcdTarget(TargetBase):
    """etcd members on loopback, one proxy in front of each (peers dial it)."""

    name = "etcd"
    description = "etcd 3.4 cluster (Debian etcd-server): raft status, KV with compare-and-set"
    default_policy: ClassVar[Any] = "per-term"
    proxy_mode = "destination"
    #: etcd listens on a client port (status, ops) and a peer port (behind the proxy).
    ports = (Port("client"), Port("peer", peer=True))
    workloads = ("none", "register", "kv")

    def __init__(self) -> None:
        self.timing = Timing()
        self.binary = "etcd"
        self._names: dict[str, str] = {}

    @property
    def election_timeout(self) -> float:
        return self.timing.election_ms / 1000

    @property
    def election_deadline(self) -> float:
        """Detection (up to two election timeouts, randomized) plus a pre-vote and a
        vote, with room for fsync stalls on a busy machine."""
        return max(5.0, 5 * self.election_timeout)

    def configure(self, options: Mapping[str, str]) -> None:
        """Check the options and that etcd is installed (``SetupError`` naming the package)."""
        timing: dict[str, Any] = {}
        binary = "etcd"
        for key, text in options.items():
            if key in ("heartbeat-ms", "election-ms"):
                timing[key.replace("-", "_")] = positive_int(key, text)
            elif key == "pre-vote":
                timing["pre_vote"] = switch(key, text)
            elif key == "binary":
                binary = text
            else:
                raise ConfigError(unknown_message("etcd option", key, list(OPTIONS)))
        self.timing = Timing(**timing)
        if self.timing.heartbeat_ms * 5 > self.timing.election_ms:
            raise ConfigError("etcd needs election-ms at least 5 times heartbeat-ms")
        self.binary = find_binary(binary)

    def launch(self, node: NodeInfo, peers: Peers) -> Launch:
        """One member: client API on its ``client`` port, peers on its ``peer`` port,
        advertised (and dialed) at the proxy in front of it, ``peers[node.id]``."""
        argv = member_argv(
            self.binary,
            node.id,
            node.data_dir,
            (node.host, node.ports["client"]),
            (node.host, node.ports["peer"]),
            {nid: addrs["peer"] for nid, addrs in peers.items()},
            token=f"chaoskit-{node.data_dir.parent.parent.name}",
            timing=self.timing,
        )
        return Launch(argv=argv)

    async def status(self, http: httpx.AsyncClient, node: NodeInfo, timeout: float) -> Status:
        """Role from ``leader == member_id``; a member that knows no leader is a candidate."""
        st = gw.parse_status(await gw.call(http, node.url, gw.STATUS, {}, timeout))
        self._names.setdefault(st.member_id, node.id)
        if st.leader is not None and st.leader == st.member_id:
            st = await self._confirmed(http, node, st, timeout)
        leader = await self._name(http, node, st.leader, timeout) if st.leader else None
        if st.leader is None:
            return Status("candidate", st.term, None)
        if st.leader == st.member_id:
            return Status("leader", st.term, leader)
        return Status("follower", st.term, leader)

    async def _confirmed(
        self, http: httpx.AsyncClient, node: NodeInfo, first: gw.MemberStatus, timeout: float
    ) -> gw.MemberStatus:
        """The status after a linearizable read, whose term is the leader's current one
        (see the module docstring); ``first`` when the read does not complete."""
        try:
            await gw.call(http, node.url, gw.RANGE, {"key": gw.b64(PROBE_KEY)}, timeout / 2)
        except (httpx.HTTPError, gw.GatewayError):
            return first
        return gw.parse_status(await gw.call(http, node.url, gw.STATUS, {}, timeout))

    async def _name(
        self, http: httpx.AsyncClient, node: NodeInfo, member: str, timeout: float
    ) -> str | None:
        """A member id as a node name (members are named after the nodes)."""
        if member not in self._names:
            body = await gw.call(http, node.url, gw.MEMBERS, {}, timeout)
            self._names.update(gw.member_names(body))
        return self._names.get(member)

    async def invoke(
        self, http: httpx.AsyncClient, node: NodeInfo, op: Mapping[str, Any], timeout: float
    ) -> Outcome:
        """Run ``op`` on ``node`` (members forward writes to the leader themselves).

        Not sent: ``fail``. A write with no answer or an error that does not prove it
        was refused: ``info``. A read that failed has no effect, so it is ``fail``.
        """
        path, body = gw.kv_request(op)
        try:
            answer = await gw.call(http, node.url, path, body, timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return Outcome("fail", error=f"not sent: {type(exc).__name__}")
        except httpx.TransportError as exc:
            return _unknown(op, f"no answer: {type(exc).__name__}", definite=False)
        except gw.GatewayError as exc:
            return _unknown(op, exc.message, definite=exc.definite)
        return gw.kv_outcome(op, answer)


def _unknown(op: Mapping[str, Any], error: str, *, definite: bool) -> Outcome:
    """``fail`` for reads and refusals that prove nothing happened, else ``info``."""
    if definite or gw.is_read(op):
        return Outcome("fail", error=error)
    return Outcome("info", error=error)
