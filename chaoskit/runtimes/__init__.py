"""Where nodes run: start, stop, kill, pause and restart them, and leave nothing behind.

Owns: local processes (local.py), Docker containers of the run (docker.py) and the
images they use (images.py), attaching to a running docker-compose project
(compose.py), TCP port leases (ports.py), the registry of runs in progress
(registry.py) and ``chaoskit cleanup`` (cleanup.py).

May import: ``chaoskit.errors``, ``core``, ``store``, ``proxy``, ``network``, ``clock``.
"""
