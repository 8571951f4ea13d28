"""Live checks: the leader and lost-write checks run on the streams as they are written.

Jepsen, and chaoskit's own checkers, judge a run after it ends: a split brain in the
first seconds still costs the whole time limit before anyone learns of it. The live
checks take every record the moment the controller writes it (``JsonlWriter``
listeners) and report an anomaly as soon as the records so far prove it, so the
terminal and the pytest plugin can show it at once and ``--fail-fast`` can stop the
run.

They do not have rules of their own: claims, overlaps, episodes, the deadline clock,
healthy majorities and the lost-write comparison are the offline checkers' building
blocks (``_timeline.ClaimBuilder``, ``split_brain.overlap``, ``_per_term``,
``stalled_election.LeaderlessTracker``, ``lost_writes.AddLedger``...), fed one record
at a time. A live anomaly is built by the same function as the offline one, from
the records seen so far, so the final offline check (the authority) finds every
live anomaly again (``unconfirmed`` says which it did not: none, unless a bug).

- ``LiveChecker``: the hub; ``observation``, ``fault`` and ``history`` take records.
- ``replay``: feed a stored run through the live checks (tests, ``benchmarks``).
- ``unconfirmed``: the live anomalies the offline results do not contain.
"""

from chaoskit.checkers.live._agree import unconfirmed
from chaoskit.checkers.live._hub import LIVE_CHECKERS, LiveChecker, replay

__all__ = ["LIVE_CHECKERS", "LiveChecker", "replay", "unconfirmed"]
