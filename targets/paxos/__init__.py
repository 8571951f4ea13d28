"""The reference Paxos target: leader election by Paxos ballots, with leases.

A pure core (``_core.py``), the asyncio shell shared with Raft and Bully
(``targets/_node``), a deterministic simulation (``_sim.py`` on ``targets/_sim.py``)
and ``PaxosTarget`` (``chaoskit.targets.paxos.target``) for chaoskit.
"""
