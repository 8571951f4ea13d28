"""A child process for the disk tests: appends numbered records to a file.

``writer.py PATH synced unsynced``: appends ``synced`` records, fsyncing after each
(and the directory once), then ``unsynced`` more without a sync, prints ``ready`` and
sleeps until killed.

``writer.py PATH --forever EVERY``: appends records without end, fsyncing after every
``EVERY``-th one and then printing how many records are durable, until killed.
"""

from __future__ import annotations

import os
import sys
import time


def record(i: int) -> bytes:
    return f"record {i:06d}\n".encode()


def main() -> None:
    path = sys.argv[1]
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
    dir_fd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
    if sys.argv[2] == "--forever":
        every = int(sys.argv[3])
        i = 0
        while True:
            os.write(fd, record(i))
            i += 1
            if i % every == 0:
                os.fsync(fd)
                if i == every:
                    os.fsync(dir_fd)
                print(i, flush=True)
    synced, unsynced = int(sys.argv[2]), int(sys.argv[3])
    for i in range(synced):
        os.write(fd, record(i))
        os.fsync(fd)
    os.fsync(dir_fd)
    for i in range(synced, synced + unsynced):
        os.write(fd, record(i))
    print("ready", flush=True)
    time.sleep(600)


if __name__ == "__main__":
    main()
