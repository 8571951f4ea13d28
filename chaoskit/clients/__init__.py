"""The client side of workloads: logical client processes and how they reach nodes.

Owns: the client runner, which invokes a workload's operations and records every
invoke and completion (runner.py); the HTTP client the controller hands to targets
(http.py); the observer's client, whose status questions go over one kept-open
connection per node (keepalive.py); client plug-ins for services that do not speak
HTTP: a user's Python class with ``open(node)``, ``invoke(op)`` and ``close()``, sync
or async, one instance per logical client process (plugin.py), operations carried out
by a command line (command.py), and the placeholders of argv templates that spec
files and commands share (templates.py).

May import: ``chaoskit.errors``, ``core``, ``store``.
"""
