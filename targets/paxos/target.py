"""``PaxosTarget``: the reference Paxos-election nodes, leases checked under ``strict``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from chaoskit.core.target import NodeInfo, Outcome
from chaoskit.targets._node._target import NodeTarget
from chaoskit.targets.paxos._core import BUGS


class PaxosTarget(NodeTarget):
    """The reference Paxos nodes (``python -m chaoskit.targets.paxos``); no client operations."""

    name = "paxos"
    description = "reference Paxos leader election with leases (strict: one leader at a time)"
    #: Leadership is a lease: two simultaneous leaders, in any ballots, are a bug.
    default_policy: ClassVar[Any] = "strict"
    workloads = ("none",)
    module = "chaoskit.targets.paxos"
    bugs = BUGS
    default_election_ticks: ClassVar[int] = 60

    @property
    def election_timeout(self) -> float:
        """The longest randomized election timeout, in seconds."""
        return 2 * self.election_ticks * self.tick_s

    @property
    def election_deadline(self) -> float:
        """Guards to expire, a timeout, and a retry after a split vote."""
        return max(2.0, 3 * self.election_timeout)

    async def invoke(
        self, http: httpx.AsyncClient, node: NodeInfo, op: Mapping[str, Any], timeout: float
    ) -> Outcome:
        return Outcome("fail", error="paxos elects a leader only: it has no client operations")
