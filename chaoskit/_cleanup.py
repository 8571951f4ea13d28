"""``chaoskit cleanup``: remove what killed runs left behind.

Local nodes carry ``CHAOSKIT_RUN_ID`` in their environment; Docker containers and
networks carry the ``chaoskit.run`` label. Nothing without those marks is touched.
"""

from __future__ import annotations

from chaoskit._runtime_local import find_leftovers, kill_leftovers


def cleanup_leftovers(run_id: str | None = None) -> list[str]:
    """Kill leftover processes (and containers, when Docker is there); say what went."""
    lines = [f"killed process {pid} of run {rid}" for pid, rid in kill_leftovers(run_id).items()]
    from chaoskit._runtime_docker import cleanup as docker_cleanup

    try:
        lines += [f"removed {what}" for what in docker_cleanup(run_id)]
    except Exception as exc:  # noqa: BLE001 - no engine is not an error here
        lines.append(f"docker: not checked ({type(exc).__name__})")
    if not lines:
        lines.append("nothing left behind")
    return lines


def leftover_warning() -> str | None:
    """A one-line warning when earlier runs left processes behind."""
    found = find_leftovers()
    if not found:
        return None
    runs = sorted(set(found.values()))
    return (
        f"{len(found)} process(es) left by earlier run(s) {', '.join(runs)}: run `chaoskit cleanup`"
    )
