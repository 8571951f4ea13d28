"""Does the final offline check confirm what the live checks reported?

The offline check is the authority; a live anomaly is *confirmed* when the offline
results hold an anomaly of the same checker that is the same finding:

- the same kind (a live ``election-safety`` is also confirmed by an offline
  same-term ``split-brain`` of the same nodes and term: two claims of that pair came
  to overlap at some time, and the offline check then calls the pair by that name,
  whenever the overlap was; both say two leaders in one term);
- every node the live anomaly names (the offline episode may have drawn in more);
- the same terms (those of the live anomaly among the offline one's);
- a window that holds the live one's start, within ``tolerance_ns`` (the sampling
  uncertainty): an offline episode may have started earlier, when it merged an
  earlier overlap found later; a stale leader's offline window is the longest stretch
  of its claim, so the whole claim (``stale_since`` to ``claim_end``) is compared;
- for lost writes, stretches of acknowledgement time that meet; for an unexpected
  element, the same element.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: Used when the run does not say how far apart its samples were.
DEFAULT_TOLERANCE_NS = 100_000_000


def unconfirmed(
    live: Iterable[dict[str, Any]], results: dict[str, Any], tolerance_ns: int | None = None
) -> list[dict[str, Any]]:
    """The live anomalies that the offline ``results`` do not contain."""
    tolerance = tolerance_ns if tolerance_ns is not None else tolerance_of(results)
    checkers = results.get("checkers", {})
    return [
        anomaly
        for anomaly in live
        if not any(
            same_finding(anomaly, offline, tolerance)
            for offline in checkers.get(anomaly.get("checker"), {}).get("anomalies", [])
        )
    ]


def tolerance_of(results: dict[str, Any]) -> int:
    """The run's sampling uncertainty: its largest gap between two samples of a node."""
    checkers = results.get("checkers", {})
    for name in ("split-brain", "stalled-election", "stats"):
        gap = checkers.get(name, {}).get("metrics", {}).get("sampling_interval_ms", {})
        if isinstance(gap, dict) and isinstance(gap.get("max"), int | float):
            return int(gap["max"] * 1_000_000)
    return DEFAULT_TOLERANCE_NS


def same_finding(live: dict[str, Any], offline: dict[str, Any], tolerance: int) -> bool:
    """Whether ``offline`` is the finding ``live`` reported (the rules above)."""
    kind = live.get("kind")
    renamed = (
        kind == "election-safety"
        and offline.get("kind") == "split-brain"
        and offline.get("same_term") is True
    )
    if offline.get("kind") != kind and not renamed:
        return False
    if kind == "unexpected-element":
        return bool(offline.get("element") == live.get("element"))
    if kind == "lost-write":  # stretches of acknowledgement time that meet
        return bool(
            live.get("start", 0) <= offline.get("end", 0)
            and offline.get("start", 0) <= live.get("end", 0)
        )
    if not set(live.get("nodes") or ()) <= set(offline.get("nodes") or ()):
        return False
    if not set(live.get("terms") or ()) <= set(offline.get("terms") or ()):
        return False
    start = offline.get("stale_since", offline.get("start", 0))
    end = offline.get("claim_end", offline.get("end", start))
    if renamed:  # the offline check names a (node, term) pair that ever overlapped so
        return True
    return bool(start - tolerance <= live.get("start", 0) <= end + tolerance)
