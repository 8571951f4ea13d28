"""Checkers: pure functions of a run's recorded streams.

What their verdicts mean: docs/architecture.md, "What the leader checks mean".
"""
