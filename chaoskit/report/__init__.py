"""Reports: a run's ``report.html`` and ``junit.xml``, the store server, a night's page.

>>> write_run_report(run_dir)        # run_dir/report.html, self-contained
>>> write_junit(run_dir)             # run_dir/junit.xml, one test case per checker
>>> serve(Path("runs"))              # http://127.0.0.1:8000/, blocks
"""

from __future__ import annotations

from chaoskit.report._junit import write_junit
from chaoskit.report._run_report import write_run_report
from chaoskit.report._serve import make_app, serve

__all__ = ["make_app", "serve", "write_junit", "write_run_report"]
