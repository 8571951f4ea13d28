"""The client side of workloads: logical client processes and how they reach nodes.

Owns: the client runner, which invokes a workload's operations and records every
invoke and completion (runner.py), the HTTP client the controller hands to
targets (http.py), and the observer's client, whose status questions go over one
kept-open connection per node (keepalive.py).

May import: ``chaoskit.errors``, ``core``, ``store``.
"""
