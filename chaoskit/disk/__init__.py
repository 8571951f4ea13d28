"""Disk faults: a FUSE file system that loses what was not synced, on command.

Why: a process kill never loses acknowledged data that was written but not fsynced,
since the kernel still holds it in its page cache and writes it back later. A power
failure does lose it. This package puts a file system of its own under a node's data
directory that keeps every unsynced change in memory, so the change can be thrown
away at the instant the node is killed, as LazyFS does.

Pieces:

- ``faultfs``: the file system process, ``python -m chaoskit.disk.faultfs BACKING
  MOUNTPOINT --control SOCKET`` (pyfuse3 on libfuse 3, trio): its FUSE requests
  (``operations``) and its JSON-lines control socket (``server``): ``power-loss``,
  ``torn-write``, ``status``, ``sync-all``, ``freeze``/``thaw``.
- ``volume``, ``tree`` and ``pages``: the model (below), pure Python over the backing
  directory: the operations, the tree and its metadata log, the page cache of a file.
- ``faults.DiskFaults``: the controller's API (mount per node, power loss atomic with
  the node's death, of one node or of several at one instant, torn write, corruption,
  unmount); ``nodes.NodeDisks``: the run's ``Disk`` (chaoskit/core/disk.py) over it,
  with the runtime's signal-only kill and the reaping of the victims; ``mounts``: the FUSE check
  (``check_fuse_available``), discovery and ``cleanup_mounts`` for ``chaoskit cleanup``;
  ``corrupt.corrupt_file``: bit flips and truncation of a stopped node's files.

What is modelled (the semantics a power loss exposes):

- Data: ``write`` goes to a per-file page cache that reads see; ``fsync`` and
  ``fdatasync`` of the file write its dirty pages and size changes (truncate) to the
  backing file and fsync it. Nothing is written back in the background: unsynced data
  stays volatile however old it is (as in LazyFS; a real kernel writes dirty pages back
  after about 30 s, so this model loses more than a real machine would: it shows what
  the application's own syncing guarantees).
- Metadata: create, mknod, mkdir, symlink, link, unlink, rmdir, rename, chmod, chown
  and utimens are logged in order and applied to the backing directory only as a
  prefix of that log: an fsync of a directory persists everything up to the last
  operation on that directory; an fsync (or fdatasync) of a file persists everything
  up to the last operation on that file, its own creation and renames included. This is
  ext4's ordered journal (the durable state is always one the tree passed through) but
  stricter: ext4 would also commit a later operation at its next journal commit.
  So a file created and fsynced survives with its name; a new file whose directory
  nobody synced disappears; a rename nobody synced reverts; the classic
  write-temp/rename without fsync loses the new content.
- Power loss: every unsynced change of the mount is dropped at once. The mount stays;
  the tree is rebuilt from the backing directory with new inode numbers; file handles
  and requests from before fail with EIO (they belong to the killed process).
- Torn write: as a power loss while one file was being written back: its earlier
  unsynced writes reach the disk whole, its last one only a prefix (at byte
  granularity, not sector), everything else is dropped.

What is not modelled: no kernel writeback, no limit on the memory the cache takes
(a node that never syncs grows it); reordering of data writes within one fsync
interval (a file's synced content is always a prefix of its write history); mmap
coherence beyond what FUSE gives (shared writable mappings reach the file system only
when the kernel writes them back); O_DIRECT is an ordinary write; extended attributes
and ``RENAME_EXCHANGE`` are not supported (ENOSYS / EINVAL); readdir lists no ``.`` and
``..``. Every request of one mount is served one at a time (a backing fsync blocks the
node's other requests for its duration), which keeps the model free of races.
"""

from __future__ import annotations

from chaoskit.disk.corrupt import corrupt_file
from chaoskit.disk.faults import DiskFaults, Mount
from chaoskit.disk.mounts import check_fuse_available, cleanup_mounts, fault_mounts
from chaoskit.disk.nodes import NodeDisks

__all__ = [
    "DiskFaults",
    "Mount",
    "NodeDisks",
    "check_fuse_available",
    "cleanup_mounts",
    "corrupt_file",
    "fault_mounts",
]
