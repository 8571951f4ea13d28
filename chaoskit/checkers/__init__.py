"""Checkers: pure functions of a run's recorded streams (ARCHITECTURE.md section 4)."""
