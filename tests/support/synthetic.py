"""Synthetic run directories of realistic shape, for report tests, benchmarks and demos.

A real run needs a cluster; the report only needs the files. This module writes a
run directory as the controller would (config, the three streams, results, logs)
from a small seeded simulation: a leader elected per term, faults that take the
leader out, a failover delay after each, client ops that time out while nobody
leads. It can plant the two leader anomalies (a stale leader overlapping its
successor, an election that overruns the deadline) so tests see them drawn.

    >>> run_dir = write_synthetic_run(tmp / "store", SyntheticSpec(seed=3, split_brain=True))
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaoskit.checkers.figures import percentile
from chaoskit.core.records import HISTORY, NEMESIS, OBSERVATIONS, Record
from chaoskit.store.streams import JsonlWriter

MS = 1_000_000
S = 1_000_000_000


@dataclass(kw_only=True)
class SyntheticSpec:
    """What to simulate. Times in seconds; ``ops`` is the number of client ops."""

    seed: int = 1
    nodes: int = 5
    duration_s: float = 30.0
    ops: int = 600
    concurrency: int = 5
    sample_ms: float = 50.0
    fault_s: float = 4.0
    heal_s: float = 4.0
    target: str = "raft"
    nemeses: tuple[str, ...] = ("partition",)
    workload: str = "register"
    election_deadline_s: float = 2.0
    split_brain: bool = False
    stalled: bool = False
    #: Leave ``results.json`` out, as a run that was never checked.
    checked: bool = True
    #: Force the merged verdict to "unknown" (a checker that crashed).
    checker_crash: bool = False
    started_at: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))


@dataclass
class _Term:
    term: int
    leader: str
    start: int
    end: int


@dataclass
class _Sim:
    """The simulated truth, from which every stream is written."""

    nodes: list[str]
    end: int
    terms: list[_Term] = field(default_factory=list)
    faults: list[Record] = field(default_factory=list)
    down: list[tuple[str, int, int]] = field(default_factory=list)
    stale: list[tuple[str, int, int, int]] = field(default_factory=list)
    failovers: list[int] = field(default_factory=list)
    stalls: list[tuple[int, int]] = field(default_factory=list)


def write_synthetic_run(store: Path, spec: SyntheticSpec) -> Path:
    """Write one run under ``store`` (store layout) and return its directory."""
    rng = random.Random(spec.seed)
    sim = _simulate(spec, rng)
    label = f"{spec.target}-{'+'.join(spec.nemeses)}"
    stamp = spec.started_at.strftime("%Y%m%dT%H%M%S.%fZ")
    run_dir = store / label / stamp
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    _write_config(run_dir, spec, sim)
    _write_nemesis(run_dir, sim)
    _write_observations(run_dir, spec, sim, rng)
    history = _write_history(run_dir, spec, sim, rng)
    if spec.checked:
        _write_results(run_dir, spec, sim, history)
    for node in sim.nodes:
        (run_dir / "logs" / f"{node}.log").write_text(f"{node} started\n{node} stopped\n")
    latest = store / "latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(run_dir.relative_to(store))
    return run_dir


def _simulate(spec: SyntheticSpec, rng: random.Random) -> _Sim:
    nodes = [f"n{i + 1}" for i in range(spec.nodes)]
    sim = _Sim(nodes=nodes, end=int(spec.duration_s * S))
    term, leader, since = 1, nodes[0], int(0.3 * S)
    t, fault_id = int(1.0 * S), 0
    stall_planted = stale_planted = False
    while t + int(spec.fault_s * S) < sim.end:
        fault_id += 1
        kind = spec.nemeses[(fault_id - 1) % len(spec.nemeses)]
        stop = t + int(spec.fault_s * S)
        sim.faults.append(_fault_record(kind, fault_id, t, stop, leader, nodes))
        if kind in ("kill", "pause"):
            sim.down.append((leader, t, stop))
        delay = int(rng.uniform(0.2, 0.9) * spec.election_deadline_s * S)
        if spec.stalled and not stall_planted:
            delay, stall_planted = int(spec.election_deadline_s * 1.8 * S), True
            sim.stalls.append((t, t + delay))
        sim.terms.append(_Term(term, leader, since, t))
        if spec.split_brain and not stale_planted and kind not in ("kill", "pause"):
            sim.stale.append((leader, term, t, t + delay + int(0.6 * S)))
            stale_planted = True
        sim.failovers.append(delay)
        term += 1
        leader = rng.choice([n for n in nodes if n != leader])
        since = t + delay
        t = stop + int(spec.heal_s * S)
    sim.terms.append(_Term(term, leader, since, sim.end))
    return sim


def _fault_record(
    kind: str, fid: int, start: int, stop: int, leader: str, nodes: list[str]
) -> Record:
    others = [n for n in nodes if n != leader]
    rec: Record = {
        "time": start,
        "type": "start",
        "id": fid,
        "fault": kind,
        "stop": stop,
        "detail": {},
        "down": [],
        "cut": [],
    }
    if kind in ("kill", "pause"):
        rec["down"] = [leader]
        rec["detail"] = {"nodes": [leader]}
    else:
        rec["detail"] = {"groups": [[leader], others]}
        rec["cut"] = [[leader, o] for o in others] + [[o, leader] for o in others]
    return rec


def _write_config(run_dir: Path, spec: SyntheticSpec, sim: _Sim) -> None:
    nemesis = ",".join(spec.nemeses)
    config = {
        "target": spec.target,
        "nemesis": list(spec.nemeses),
        "workload": spec.workload,
        "nodes": sim.nodes,
        "seed": spec.seed,
        "time_limit": spec.duration_s,
        "policy": "per-term",
        "election_deadline": spec.election_deadline_s,
        "command": f"chaoskit run --target {spec.target} --nodes {spec.nodes} "
        f"--time-limit {spec.duration_s:g} --seed {spec.seed} --nemesis {nemesis} "
        f"--workload {spec.workload}",
        "started_at": spec.started_at.isoformat(),
        "end_time": sim.end,
        "finished": True,
    }
    (run_dir / "config.json").write_text(json.dumps(config, indent=2))


def _write_nemesis(run_dir: Path, sim: _Sim) -> None:
    writer = JsonlWriter(run_dir / NEMESIS)
    for rec in sim.faults:
        start = {k: v for k, v in rec.items() if k != "stop"}
        writer.write(start)
        writer.write({"time": rec["stop"], "type": "stop", "id": rec["id"], "fault": rec["fault"]})
    writer.close()


def _role_at(sim: _Sim, node: str, t: int) -> tuple[str, int | None, str | None]:
    """Role, term and believed leader of ``node`` at ``t`` in the simulation."""
    if any(n == node and a <= t < b for n, a, b in sim.down):
        return "down", None, None
    for n, term, a, b in sim.stale:
        if n == node and a <= t < b:
            return "leader", term, node
    current = next((x for x in sim.terms if x.start <= t < x.end), None)
    if current is None:
        last = max((x.term for x in sim.terms if x.end <= t), default=0)
        flip = (int(node.lstrip("n") or 0) + t // (100 * MS)) % 3 == 0
        return "candidate" if flip else "follower", last + 1, None
    role = "leader" if current.leader == node else "follower"
    return role, current.term, current.leader


def _write_observations(run_dir: Path, spec: SyntheticSpec, sim: _Sim, rng: random.Random) -> None:
    writer = JsonlWriter(run_dir / OBSERVATIONS)
    step = int(spec.sample_ms * MS)
    for t in range(0, sim.end, step):
        for node in sim.nodes:
            role, term, leader = _role_at(sim, node, t)
            jitter = rng.randrange(0, step // 4 + 1)
            writer.write(
                {
                    "time": t + jitter,
                    "node": node,
                    "role": role,
                    "term": term,
                    "leader": leader,
                    "latency": rng.randrange(200_000, 2_000_000),
                }
            )
    writer.close()


def _leader_at(sim: _Sim, t: int) -> bool:
    return any(x.start <= t < x.end for x in sim.terms)


def _write_history(
    run_dir: Path, spec: SyntheticSpec, sim: _Sim, rng: random.Random
) -> list[Record]:
    """Client ops: fast while someone leads, time-outs (info) or refusals otherwise."""
    writer = JsonlWriter(run_dir / HISTORY)
    free_at = [0] * spec.concurrency
    gap = sim.end / max(spec.ops, 1)
    records: list[Record] = []
    for i in range(spec.ops):
        t = int(i * gap)
        p = min(range(spec.concurrency), key=lambda k: free_at[k])
        t = max(t, free_at[p])
        f = rng.choice(["read", "write", "cas"])
        value: Any = rng.randrange(10) if f == "write" else None
        if f == "cas":
            value = [rng.randrange(10), rng.randrange(10)]
        node = rng.choice(sim.nodes)
        invoke = {
            "index": 2 * i,
            "type": "invoke",
            "process": p,
            "f": f,
            "key": f"k{i % 4}",
            "value": value,
            "node": node,
            "time": t,
        }
        kind, latency = _outcome(sim, t, rng)
        done = {**invoke, "index": 2 * i + 1, "type": kind, "time": t + latency}
        if f == "read" and kind == "ok":
            done["value"] = rng.randrange(10)
        free_at[p] = t + latency
        writer.write(invoke)
        writer.write(done)
        records += [invoke, done]
    writer.close()
    return records


def _outcome(sim: _Sim, t: int, rng: random.Random) -> tuple[str, int]:
    if _leader_at(sim, t):
        kind = "ok" if rng.random() > 0.02 else "fail"
        return kind, int(rng.lognormvariate(1.3, 0.6) * MS)
    if rng.random() < 0.5:
        return "fail", int(rng.uniform(1, 5) * MS)
    return "info", 1000 * MS


def _write_results(run_dir: Path, spec: SyntheticSpec, sim: _Sim, history: list[Record]) -> None:
    faults = [f["fault"] for f in sim.faults]
    split: list[dict[str, Any]] = [
        {
            "kind": "split-brain",
            "start": a,
            "end": min(b, next((x.end for x in sim.terms if x.term == term + 1), b)),
            "message": f"{node} (term {term}) and its successor both led",
            "nodes": [node, next(x.leader for x in sim.terms if x.term == term + 1)],
            "terms": [term, term + 1],
            "faults": faults[:1],
        }
        for node, term, a, b in sim.stale
    ]
    for anomaly in split:
        anomaly["start"] = max(
            anomaly["start"], next(x.start for x in sim.terms if x.term == anomaly["terms"][1])
        )
    stalls = [
        {
            "kind": "stalled-election",
            "start": a,
            "end": b,
            "message": f"no leader for {(b - a) / S:.2f}s (deadline {spec.election_deadline_s:g}s)",
            "faults": faults[:1],
        }
        for a, b in sim.stalls
    ]
    values = [d / MS for d in sim.failovers]
    failover = (
        {
            "count": len(values),
            "p50": percentile(values, 0.5),
            "p99": percentile(values, 0.99),
            "max": max(values),
        }
        if values
        else {"count": 0, "p50": None, "p99": None, "max": None}
    )
    events = [
        {"time": f["time"], "event": "start", "fault": f["fault"], "failover_ms": v}
        for f, v in zip(sim.faults, values, strict=True)
    ]
    sampling = {"count": 1, "p50": spec.sample_ms, "p99": spec.sample_ms, "max": spec.sample_ms}
    oks = sum(1 for r in history if r["type"] == "ok")
    checkers: dict[str, Any] = {
        "split-brain": {
            "valid": not split,
            "anomalies": split,
            "metrics": {
                "sampling_interval_ms": sampling,
                "claims": len(sim.terms) + len(sim.stale),
                "max_overlap_ms": max(((a["end"] - a["start"]) / MS for a in split), default=0.0),
            },
        },
        "stalled-election": {
            "valid": not stalls,
            "anomalies": stalls,
            "metrics": {
                "failover_ms": failover,
                "failovers": events,
                "failover_unresolved": 0,
                "sampling_interval_ms": sampling,
            },
        },
        "stats": {"valid": True, "anomalies": [], "metrics": {"ops": len(history) // 2, "ok": oks}},
    }
    if spec.checker_crash:
        checkers["linearizable"] = {
            "valid": "unknown",
            "anomalies": [],
            "metrics": {},
            "error": "RecursionError: search space exhausted",
        }
    verdicts = [c["valid"] for c in checkers.values()]
    valid: Any = False if False in verdicts else ("unknown" if "unknown" in verdicts else True)
    results = {"valid": valid, "incomplete": False, "checkers": checkers}
    (run_dir / "results.json").write_text(json.dumps(results, indent=2))
