"""A controller that sets up a remote run and waits to be killed (SIGKILL) by a test.

Usage: python killed_controller.py INVENTORY RUN_ID RUN_DIR. Prints ``ready`` once
nodes run on three hosts (one of them with a forked child), links are cut and a
clock is skewed, so that everything a run can leave on a host is there to clean.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from chaoskit.core.target import Launch
from chaoskit.remote.inventory import load_inventory
from chaoskit.remote.runtime import SshRuntime


async def main(inventory: str, run_id: str, run_dir: str) -> None:
    rt = SshRuntime(run_id, Path(run_dir), load_inventory(Path(inventory)))
    placed = await rt.setup(["n1", "n2", "n3"])
    clock = await rt.clock()
    for p in placed:
        argv = ["sh", "-c", "sleep 1000 & exec sleep 1001"] if p.id == "n1" else ["sleep", "1002"]
        await rt.launch(p.outside, Launch(argv))
    net = rt.network()
    await net.setup()
    await net.cut([("n1", "n2"), ("n2", "n3")])
    await net.loss([("n3", "n1")], 0.5)
    clock.set("n1", offset_s=10.0)
    await clock.sync()
    print("ready", flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
