"""Nemeses: the fault families chaoskit ships (registered as entry points)."""
