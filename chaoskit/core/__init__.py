"""The contracts every other part speaks: one small Protocol per pluggable part.

Owns: ``Target`` (target.py), ``Runtime`` (runtime.py), ``Network`` (network.py),
``Clock`` (clock.py), ``Disk`` (disk.py), ``Nemesis`` and ``Fault`` (nemesis.py), ``Workload``
(workload.py), ``Checker`` and ``RunData`` (checker.py), the record vocabulary of the
three streams (records.py) and the entry-point loader of plug-ins (plugins.py).

May import: ``chaoskit.errors`` only. Everything else in chaoskit builds on this.
"""
