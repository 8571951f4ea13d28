"""Nightly resilience matrices: many runs, one report with trends.

Owns: the matrix file and running its cells (night.py) and one cell as a run
(cells.py). The HTML page of a night is drawn by ``chaoskit.report``.

May import: ``run``, ``report`` and every package below them.
"""
