"""One run, from settings to verdict.

Owns: the run settings (settings.py: the one table from which the CLI options, the
pytest marker, the nightly matrix keys and the "repeat with" command are derived),
``RunConfig`` (config.py), resolving it into plug-ins (plan.py), the random fault
schedule (schedule.py), re-running a stored run's schedule for replay and shrink
(rerun.py), the controller (controller.py: the phases of a run; launch.py:
starting a cluster; faults.py: active faults and the fault log; record.py:
config.json, the registry of active runs, reports), the live display (progress.py),
``RunResult`` (result.py), the Python API (api.py) and ``ChaosCluster`` for tests that
drive faults themselves (cluster.py).

May import: every lower package (core, store, proxy, network, clock, clients,
observe, runtimes, checkers, report, spec, scenario) and the catalogue (``chaoskit.targets``,
``chaoskit.nemeses``, ``chaoskit.workloads``). Nothing below imports it.
"""
