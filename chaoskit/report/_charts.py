"""The report's charts, drawn by matplotlib as inline SVG (no JavaScript, no network).

matplotlib's object API (``Figure``, never ``pyplot``) keeps no global state, so the
server can draw in a worker thread. Every chart is returned as an ``<svg>`` string
ready to be put in the page; each gets its own id salt so that several charts can
live in one document without their ids clashing.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Mapping, Sequence

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from chaoskit.report._model import FaultSpan, Interval, OpPoint

S = 1e9
ROLE_COLOURS = {
    "leader": "#2b8a3e",
    "follower": "#a5d8ff",
    "candidate": "#ffa94d",
    "down": "#868e96",
}
OUTCOME_COLOURS = {"ok": "#1c7ed6", "fail": "#e03131", "info": "#f59f00"}
ANOMALY_COLOURS = {"split-brain": "#e03131", "stalled-election": "#ae3ec9"}
OTHER_ANOMALY = "#f76707"
FAULT_PALETTE = ("#9775fa", "#f783ac", "#20c997", "#fab005", "#4dabf7", "#ff8787")
#: An anomaly window narrower than this share of the axis is widened so it shows.
MIN_VISIBLE = 0.004
_LOCK = threading.Lock()
_SIZE = re.compile(r'<svg([^>]*?)\swidth="[^"]*"\s+height="[^"]*"')


def fault_colours(faults: Sequence[FaultSpan]) -> dict[str, str]:
    """A stable colour per fault name, in order of first appearance."""
    names = list(dict.fromkeys(f.fault for f in faults))
    return {name: FAULT_PALETTE[i % len(FAULT_PALETTE)] for i, name in enumerate(names)}


def anomaly_colour(kind: str) -> str:
    return ANOMALY_COLOURS.get(kind, OTHER_ANOMALY)


def to_svg(fig: Figure, salt: str) -> str:
    """Render ``fig`` to an ``<svg>`` element that scales to the page width."""
    buf = io.StringIO()
    with _LOCK, rc_context({"svg.hashsalt": salt, "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    return _SIZE.sub(r'<svg\1 width="100%" class="chart" data-chart="' + salt + '"', text, 1)


def _shade_faults(
    ax: Axes, faults: Sequence[FaultSpan], colours: dict[str, str], label: bool, x_span: float
) -> None:
    for f in faults:
        ax.axvspan(f.start / S, f.end / S, color=colours[f.fault], alpha=0.16, lw=0)
        if label and (f.end - f.start) / S >= 0.04 * x_span:
            ax.text(
                (f.start + f.end) / 2 / S,
                1.0,
                f.fault,
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=7,
                color="#495057",
            )


def _window(anomaly: dict[str, object], x_span: float) -> tuple[float, float] | None:
    start, end = anomaly.get("start"), anomaly.get("end")
    if not isinstance(start, int | float):
        return None
    a = start / S
    b = end / S if isinstance(end, int | float) else a
    width = max(b - a, MIN_VISIBLE * x_span)
    return a, width


def timeline_svg(
    nodes: Sequence[str],
    roles: dict[str, list[Interval]],
    faults: Sequence[FaultSpan],
    anomalies: Sequence[dict[str, object]],
    end_time: int,
) -> str:
    """One band per node coloured by role, faults shaded, anomalies marked where they were."""
    x_span = max(end_time / S, 1e-3)
    rows = len(nodes) + 1
    fig = Figure(figsize=(12, 0.42 * rows + 1.3))
    ax = fig.add_subplot()
    colours = fault_colours(faults)
    _shade_faults(ax, faults, colours, True, x_span)
    for row, node in enumerate(nodes):
        _node_band(ax, row, roles.get(node, []), x_span)
        for f in faults:
            if node in f.down:
                ax.broken_barh(
                    [(f.start / S, (f.end - f.start) / S)],
                    (row - 0.4, 0.8),
                    facecolors="none",
                    edgecolors="#343a40",
                    hatch="///",
                    lw=0,
                )
    _anomaly_row(ax, nodes, anomalies, x_span)
    ax.set_yticks(range(rows), [*nodes, "anomalies"])
    ax.set_ylim(rows - 0.5, -0.5)
    ax.set_xlim(0, x_span)
    ax.set_xlabel("time since the run started (s)")
    handles = [Patch(color=c, label=r) for r, c in ROLE_COLOURS.items()]
    handles += [Patch(color=c, alpha=0.3, label=f"fault: {n}") for n, c in colours.items()]
    handles += [Patch(color=c, label=k) for k, c in ANOMALY_COLOURS.items()]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.28),
        ncol=6,
        fontsize=8,
        frameon=False,
    )
    return to_svg(fig, "timeline")


def _node_band(ax: Axes, row: int, intervals: Sequence[Interval], x_span: float) -> None:
    for role, colour in ROLE_COLOURS.items():
        bars = [(i.start / S, (i.end - i.start) / S) for i in intervals if i.label == role]
        if bars:
            ax.broken_barh(bars, (row - 0.3, 0.6), facecolors=colour, lw=0)
    for i in intervals:
        if i.label == "leader" and i.term is not None and (i.end - i.start) / S > 0.05 * x_span:
            ax.text(
                (i.start + i.end) / 2 / S,
                row,
                f"term {i.term}",
                ha="center",
                va="center",
                fontsize=7,
                color="white",
            )


def _anomaly_row(
    ax: Axes, nodes: Sequence[str], anomalies: Sequence[dict[str, object]], x_span: float
) -> None:
    """Each anomaly: a bar on the anomalies row, a faint span over all rows, node outlines."""
    top = len(nodes)
    for anomaly in anomalies:
        window = _window(anomaly, x_span)
        if window is None:
            continue
        colour = anomaly_colour(str(anomaly.get("kind")))
        ax.broken_barh([window], (top - 0.35, 0.7), facecolors=colour, lw=0)
        ax.axvspan(window[0], window[0] + window[1], color=colour, alpha=0.12, lw=0)
        involved = anomaly.get("nodes")
        for row, node in enumerate(nodes):
            if isinstance(involved, list) and node in involved:
                ax.broken_barh(
                    [window], (row - 0.42, 0.84), facecolors="none", edgecolors=colour, lw=1.6
                )


def latency_svg(
    points: Sequence[OpPoint],
    faults: Sequence[FaultSpan],
    anomalies: Sequence[dict[str, object]],
    end_time: int,
) -> str:
    """Latency over time per client op, coloured by outcome, faults shaded (as Jepsen's)."""
    x_span = max(end_time / S, 1e-3)
    fig = Figure(figsize=(12, 4))
    ax = fig.add_subplot()
    _shade_faults(ax, faults, fault_colours(faults), True, x_span)
    for anomaly in anomalies:
        window = _window(anomaly, x_span)
        if window is not None:
            colour = anomaly_colour(str(anomaly.get("kind")))
            ax.axvspan(window[0], window[0] + window[1], color=colour, alpha=0.18, lw=0)
    for outcome, colour in OUTCOME_COLOURS.items():
        chosen = [p for p in points if p.outcome == outcome]
        if chosen:
            ax.scatter(
                [p.time / S for p in chosen],
                [max(p.latency / 1e6, 0.01) for p in chosen],
                s=5,
                c=colour,
                linewidths=0,
                label=f"{outcome} ({len(chosen)} shown)",
            )
    ax.set_yscale("log")
    ax.set_xlim(0, x_span)
    ax.set_xlabel("invoked at (s since the run started)")
    ax.set_ylabel("latency (ms)")
    if points:
        ax.legend(loc="upper right", fontsize=8, markerscale=2)
    return to_svg(fig, "latency")


def failover_svg(
    values_ms: Sequence[float], p50: float | None, p99: float | None, deadline_ms: float | None
) -> str:
    """Time to a new leader after each fault, with p50, p99 and the deadline drawn across."""
    fig = Figure(figsize=(12, 2.8))
    ax = fig.add_subplot()
    over = [deadline_ms is not None and v > deadline_ms for v in values_ms]
    ax.bar(
        range(1, len(values_ms) + 1), values_ms, color=["#e03131" if o else "#495057" for o in over]
    )
    for value, label, style in (
        (p50, "p50", ":"),
        (p99, "p99", "--"),
        (deadline_ms, "deadline", "-"),
    ):
        if value is not None:
            ax.axhline(
                value,
                ls=style,
                color="#ae3ec9" if label == "deadline" else "#1c7ed6",
                lw=1,
                label=f"{label} {value:.0f} ms",
            )
    ax.set_xlabel("fault (in order)")
    ax.set_ylabel("time to a new leader (ms)")
    ax.legend(loc="upper right", fontsize=8)
    return to_svg(fig, "failover")


def trend_svg(
    name: str,
    title: str,
    nights: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    ylabel: str,
) -> str:
    """One metric over nights, a line per series; missing nights leave gaps."""
    fig = Figure(figsize=(12, 3))
    ax = fig.add_subplot()
    x = list(range(len(nights)))
    for label, values in series.items():
        ys = [float("nan") if v is None else v for v in values]
        ax.plot(x, ys, marker="o", ms=3, lw=1.2, label=label)
    ax.set_xticks(x, list(nights), rotation=30, ha="right", fontsize=7)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    if ylabel != "ms":  # counts: whole numbers only
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if series:
        ax.legend(loc="upper left", fontsize=7, ncol=3, frameon=False)
    return to_svg(fig, name)
