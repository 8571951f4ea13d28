"""Target spec files: a user's own service described in TOML, whatever it speaks.

Owns: the shape of a spec file and its one-line errors (schema.py, on pydantic),
building a ``Target`` from it (loader.py), and asking a node who leads or running an
HTTP operation as the spec says (probes.py).

May import: ``chaoskit.errors``, ``core``, ``clients``.
"""
