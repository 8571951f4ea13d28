"""Nightly resilience matrices: many runs, one report with trends.

Owns: the matrix file (matrix.py), running its cells and writing a night
(night.py), one cell as a run (cells.py), and a night split across machines: which
shard a job is (shard.py), the identity shards share (identity.py), the balanced
split (balance.py), running one shard (shard_run.py) and merging the shards back
into one night (merge.py). The HTML page of a night is drawn by ``chaoskit.report``.

May import: ``run``, ``report`` and every package below them.
"""
