"""Checkers: pure functions of a run's recorded streams.

What their verdicts mean: docs/architecture.md, "What the leader checks mean". The
leader and lost-write rules also run live, fed one record at a time (``live/``).
"""
