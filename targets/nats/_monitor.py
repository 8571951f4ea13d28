"""Leadership from a nats-server's monitoring endpoint: ``GET /jsz``.

``meta_cluster.leader`` names the JetStream meta leader (the Raft group that owns
the cluster's metadata); with ``?accounts=true&streams=true`` every stream's
``cluster.leader`` is listed too (a KV bucket is the stream ``KV_<bucket>``). Each is
what the answering server believes. NATS 2.9 exposes no Raft term, so leadership
has no term: claims are compared under the ``strict`` policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from chaoskit.core.target import Status

Group = Literal["meta", "kv", "stream"]
GROUPS: tuple[Group, ...] = ("meta", "kv", "stream")
JSZ = "/jsz?accounts=true&streams=true"


def group_leader(body: Mapping[str, Any], group: Group, stream: str) -> str | None:
    """The leader ``body`` (a ``/jsz`` answer) names for ``group``; None when none."""
    if group == "meta":
        meta = body.get("meta_cluster")
        leader = meta.get("leader") if isinstance(meta, dict) else None
        return leader if isinstance(leader, str) and leader else None
    for account in body.get("account_details") or []:
        for detail in account.get("stream_detail") or []:
            if detail.get("name") == stream:
                cluster = detail.get("cluster")
                leader = cluster.get("leader") if isinstance(cluster, dict) else None
                return leader if isinstance(leader, str) and leader else None
    return None


def parse_jsz(body: Mapping[str, Any], node: str, group: Group, stream: str) -> Status:
    """The node's role in ``group``: leader when it names itself, candidate when it
    knows no leader (an election, or the stream does not exist yet)."""
    if not isinstance(body.get("meta_cluster"), dict):
        raise ValueError(f"{node}: /jsz without meta_cluster: JetStream is not clustered")
    leader = group_leader(body, group, stream)
    if leader is None:
        return Status("candidate", None, None)
    return Status("leader" if leader == node else "follower", None, leader)
