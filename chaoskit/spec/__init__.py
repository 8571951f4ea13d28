"""Target spec files: a user's own service described in TOML, no Python needed.

Owns: loading and validating a spec file into a ``Target`` (loader.py).

May import: ``chaoskit.errors``, ``core``, ``clients``.
"""
