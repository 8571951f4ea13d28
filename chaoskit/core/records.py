"""The three recorded streams of a run: their names and the shape of their records.

The record formats are the contract between the parts that write the streams (the
client runner, the observer, the controller's fault log) and the checkers and reports
that read them; ``chaoskit.store.streams`` writes and reads them as JSON Lines.

Every record carries ``time``: nanoseconds since the run started, from the
controller's monotonic clock. Writers flush every line as it comes so that a
controller killed mid-run still leaves checkable files; readers ignore only a torn
last line.

history.jsonl::

    {"index": 17, "type": "invoke", "process": 3, "f": "cas", "key": "k2",
     "value": [4, 7], "node": "n2", "time": 1532000000}

observations.jsonl::

    {"time": 1533000000, "node": "n1", "role": "leader", "term": 7,
     "leader": "n1", "latency": 410000}

nemesis.jsonl (``down`` and ``cut`` are what checkers read to know who is up and
which directed links are cut; ``detail`` is free-form for humans and reports)::

    {"time": ..., "type": "start", "id": 3, "fault": "partition",
     "detail": {"groups": [["n1","n2"],["n3","n4","n5"]]},
     "down": [], "cut": [["n1","n3"], ...]}
    {"time": ..., "type": "stop", "id": 3, "fault": "partition"}
"""

from __future__ import annotations

from typing import Any, Literal

HISTORY = "history.jsonl"
OBSERVATIONS = "observations.jsonl"
NEMESIS = "nemesis.jsonl"

Record = dict[str, Any]
OpType = Literal["invoke", "ok", "fail", "info"]
Role = Literal["leader", "follower", "candidate", "down"]
