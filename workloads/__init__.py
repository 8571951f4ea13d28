"""Workloads: client operations and the model that checks them.

=============  ==============================================  =================
``register``   read / write / cas small ints on 3 keys          linearizable
``kv``         get / put faker words on 64 keys                 linearizable
``set``        unique adds, final ``read-set`` after the heal   lost-writes
``none``       no operations (observations only)                (leader checks)
=============  ==============================================  =================
"""

from __future__ import annotations

from chaoskit.workloads._kv import KvWorkload
from chaoskit.workloads._none import NoWorkload
from chaoskit.workloads._register import RegisterWorkload
from chaoskit.workloads._set import SetWorkload

__all__ = ["KvWorkload", "NoWorkload", "RegisterWorkload", "SetWorkload"]
