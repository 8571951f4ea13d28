"""Client plug-ins: how a workload's operations reach a service that does not speak HTTP.

``plugin``: a user's Python class (``open(node)``, ``invoke(op)``, ``close()``, sync or
async), one instance per logical client process. ``command``: an operation carried out
by running a command line (a service's own CLI).
"""

from chaoskit.clients.command import CommandOp
from chaoskit.clients.plugin import Client, ClientSession, OpFailed, load_client_class

__all__ = ["Client", "ClientSession", "CommandOp", "OpFailed", "load_client_class"]
