"""Nemeses: the fault families chaoskit ships (registered as entry points).

=========================== =====================================================
``kill`` / ``pause``        SIGKILL / SIGSTOP a random minority (``count=``)
``kill-leader``             SIGKILL the current leader
``pause-leader``            SIGSTOP the current leader
``partition``               random halves (``mode=cut|hang``)
``partition-oneway``        only one half's traffic to the other is cut
``partition-majorities-ring`` every node sees a different majority
``partition-bridge``        two halves joined by one node
``isolate``                 one random node cut off (``direction=both|in|out``)
``isolate-leader``          the current leader cut off
``latency``                 delay and jitter on every link
``none``                    nothing (a baseline)
=========================== =====================================================

A nemesis applies its fault to the node ids it is given: the scenario engine
(``chaoskit.scenario``) resolves each step's targets, or the nemesis's
``default_targets`` (``minority``, ``leader`` for the ``-leader`` variants, ...), when
the step fires. Topologies are pure functions of those ids (``chaoskit.nemeses._grudges``);
when faults start and stop is the schedule's (``chaoskit.run.schedule``) or a scenario
file's.

Clock faults live in ``chaoskit.nemeses.clock``, disk faults (power loss, torn writes,
corrupted files) in ``chaoskit.nemeses.disk``.
"""

from __future__ import annotations

from chaoskit.nemeses._latency import Latency, NoFault
from chaoskit.nemeses._partition import (
    Isolate,
    IsolateLeader,
    Partition,
    PartitionBridge,
    PartitionMajoritiesRing,
    PartitionOneWay,
)
from chaoskit.nemeses._process import Kill, KillLeader, Pause, PauseLeader

#: Every built-in nemesis class, by the name it is registered under.
BUILTINS: dict[str, type] = {
    cls.name: cls
    for cls in (
        Kill,
        Pause,
        KillLeader,
        PauseLeader,
        Partition,
        PartitionOneWay,
        PartitionMajoritiesRing,
        PartitionBridge,
        Isolate,
        IsolateLeader,
        Latency,
        NoFault,
    )
}

__all__ = [
    "BUILTINS",
    "Isolate",
    "IsolateLeader",
    "Kill",
    "KillLeader",
    "Latency",
    "NoFault",
    "Partition",
    "PartitionBridge",
    "PartitionMajoritiesRing",
    "PartitionOneWay",
    "Pause",
    "PauseLeader",
]
