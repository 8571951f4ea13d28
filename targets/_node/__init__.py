"""The asyncio shell shared by the reference nodes: arguments, HTTP, peers and ticks.

A protocol core (``chaoskit.targets.raft._core``, ``chaoskit.targets.bully._core``) stays pure; this
package does the I/O around it:

- ``parse_args``: the common command line (``--id --listen --peer --data-dir ...``);
- ``PeerSender``: one-way, fire-and-forget messages to every peer, one bounded queue
  per peer so a dead or silent peer never slows the others;
- ``read_json`` / ``json_error`` / ``make_app`` / ``serve``: a small aiohttp server that
  answers anything malformed with a 4xx;
- ``tick_loop``: a fixed-rate ticker that skips ticks it missed instead of bursting;
  ``serve_with_ticker`` serves a node's app with it running, and stops both in order;
- ``ElectionNode`` / ``check_envelope``: the whole process of an election-only core
  (Bully, Paxos): ``/status``, ``/peer``, 501 for the key-value endpoints, the ticker.
"""

from chaoskit.targets._node._args import NodeArgs, parse_args
from chaoskit.targets._node._election import ElectionNode, check_envelope
from chaoskit.targets._node._http import BadRequest, json_error, make_app, read_json, serve
from chaoskit.targets._node._sender import PeerSender
from chaoskit.targets._node._ticker import serve_with_ticker, tick_loop

__all__ = [
    "BadRequest",
    "ElectionNode",
    "NodeArgs",
    "PeerSender",
    "check_envelope",
    "json_error",
    "make_app",
    "parse_args",
    "read_json",
    "serve",
    "serve_with_ticker",
    "tick_loop",
]
