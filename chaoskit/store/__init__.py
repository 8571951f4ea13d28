"""What a run leaves on disk: the JSON Lines streams and the run directory.

Owns: writing and reading the streams (streams.py: ``RunClock``, ``JsonlWriter``,
``read_jsonl``) and the store layout (rundir.py: ``<store>/<target>-<nemesis>/<UTC
time>/``, ``config.json``, ``results.json``, ``load_run``), and reading the files a
user names (files.py: regular files only, bounded, UTF-8, bounded nesting).

May import: ``chaoskit.errors``, ``core``.
"""
