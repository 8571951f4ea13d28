"""Targets: the systems under test chaoskit ships (reference nodes, real systems)."""
