"""Report size and opening time for a large run: 10 minutes, 5 nodes, 100,000 ops.

    PYTHONPATH=. .venv/bin/python benchmarks/report_size.py [--keep DIR]

Prints the size of report.html (budget: under 5 MB), the time to render it, and,
when /usr/bin/chromium is there, the time headless Chromium takes to load it
(budget: under 3 s) and the charts it drew.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from chaoskit.report import write_run_report
from tests.support.browser import CHROMIUM, check_page
from tests.support.synthetic import SyntheticSpec, write_synthetic_run

SPEC = SyntheticSpec(
    seed=5,
    nodes=5,
    duration_s=600,
    ops=100_000,
    concurrency=20,
    sample_ms=20,
    fault_s=10,
    heal_s=10,
    split_brain=True,
    stalled=True,
    nemeses=("partition", "kill", "pause"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the run here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = args.keep or Path(tmp)
        t0 = time.perf_counter()
        run = write_synthetic_run(store, SPEC)
        t1 = time.perf_counter()
        report = write_run_report(run)
        t2 = time.perf_counter()
        streams = sum(p.stat().st_size for p in run.glob("*.jsonl"))
        print(
            f"run: {SPEC.duration_s:g} s, {SPEC.nodes} nodes, {SPEC.ops} ops, "
            f"streams {streams / 1e6:.1f} MB (written in {t1 - t0:.1f} s)"
        )
        print(
            f"report.html: {report.stat().st_size / 1e6:.2f} MB (budget 5 MB), "
            f"rendered in {t2 - t1:.1f} s"
        )
        if Path(CHROMIUM).exists():
            check = check_page(report.as_uri())
            print(
                f"chromium load: {check.load_ms / 1000:.2f} s (budget 3 s), "
                f"charts {[c['name'] for c in check.charts]}, "
                f"console errors {len(check.console_errors)}"
            )
        else:
            print(f"chromium load: not measured ({CHROMIUM} missing)")


if __name__ == "__main__":
    main()
