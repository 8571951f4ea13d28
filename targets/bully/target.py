"""``BullyTarget``: the reference Bully nodes, split brain under partition included."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from chaoskit.core.target import NodeInfo, Outcome
from chaoskit.targets._node._target import NodeTarget


class BullyTarget(NodeTarget):
    """The reference Bully nodes (``python -m chaoskit.targets.bully``); no client operations."""

    name = "bully"
    description = "reference Bully election (assumes a synchronous network: splits on partition)"
    default_policy: ClassVar[Any] = "strict"
    workloads = ("none",)
    election_deadline = 2.0
    module = "chaoskit.targets.bully"
    bugs = ()

    @property
    def election_timeout(self) -> float:
        """Leader timeout plus the wait for OK answers, in seconds (worst case)."""
        return (2 * self.election_ticks + 5) * self.tick_s

    async def invoke(
        self, http: httpx.AsyncClient, node: NodeInfo, op: Mapping[str, Any], timeout: float
    ) -> Outcome:
        return Outcome("fail", error="bully elects a leader only: it has no client operations")
