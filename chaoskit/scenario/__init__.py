"""Fault schedules as data: scenarios, the engine that runs them, tapes, replay, shrink.

Owns: the scenario model (model.py: steps saying what fault, on which targets, when,
for how long, how many times), the TOML scenario files (files.py), target selectors
and roles (targets.py), the observer's leader stream as a trigger (leaders.py), the
step timing (timing.py) and the engine that carries the steps out (engine.py), the
tape of what happened (tape.py: ``tape.json``), re-running a stored run (replay.py)
and shrinking a failing schedule (shrink.py, over any runner: the real one is in
``chaoskit.run.rerun``).

May import: ``chaoskit.errors``, ``core``, ``store``. ``run`` imports it.
"""
