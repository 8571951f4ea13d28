"""Clock faults: lie to each node about the time while the run goes on.

Owns: per-node libfaketime timestamp files (faketime.py), an implementation of
``chaoskit.core.clock.Clock``.

May import: ``chaoskit.errors``, ``core``.
"""
