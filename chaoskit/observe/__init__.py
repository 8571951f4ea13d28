"""Leader observation: asking every node "role, term, leader?" many times a second.

Owns: the observer (observer.py), which timestamps every answer with the
controller's clock and streams it to ``observations.jsonl``.

May import: ``chaoskit.errors``, ``core``, ``store``, ``clients``.
"""
