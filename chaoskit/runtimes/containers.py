"""Containers one at a time: state, signals, logs, and removal by label.

What the Docker runtime and ``chaoskit cleanup`` do to single containers, written once.
Every object chaoskit creates carries the ``chaoskit.run`` label, and removal goes by
that label only, so nothing chaoskit did not create is ever touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal as signals
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from chaoskit.errors import SetupError
from chaoskit.runtimes.images import docker_client, docker_errors

LABEL_RUN = "chaoskit.run"
LABEL_NODE = "chaoskit.node"
LABEL_ROLE = "chaoskit.role"
#: The process token (``_active.process_token``) of the process that created the
#: container: ``chaoskit cleanup`` without ``--run-id`` spares runs whose creator lives,
#: whichever registry (state dir, user) that process wrote to, if any.
LABEL_CONTROLLER = "chaoskit.controller"
STOP_GRACE_S = 3
READY_TIMEOUT_S = 30.0


def create(
    client: Any,
    network: str,
    run_labels: Mapping[str, str],
    net_admin: bool,
    image: str,
    name: str,
    command: list[str],
    env: Mapping[str, str],
    ports: Mapping[str, tuple[str, int]],
    labels: Mapping[str, str],
    volumes: Mapping[str, Mapping[str, str]] | None = None,
) -> Any:
    """Create (not start) a container of the run on its network, labelled as the run's;
    ``NET_ADMIN`` only when ``net_admin`` (iptables faults inside it)."""
    errors = docker_errors()
    try:
        return client.containers.create(
            image,
            command=command,
            name=name,
            hostname=name,
            environment=dict(env),
            labels={**run_labels, **labels},
            network=network,
            ports=dict(ports),
            cap_add=["NET_ADMIN"] if net_admin else [],
            init=True,
            detach=True,
            volumes={k: dict(v) for k, v in (volumes or {}).items()},
        )
    except errors.ImageNotFound as exc:
        raise SetupError(
            f"image {image} not found: build it with `chaoskit image build` "
            "(or .ci/docker-setup.sh)"
        ) from exc
    except errors.APIError as exc:
        raise SetupError(f"cannot create container {name}: {exc.explanation or exc}") from exc


def exec_beside(
    client: Any, image: str, container: str, argv: list[str], labels: Mapping[str, str]
) -> tuple[int, str]:
    """Run ``argv`` (as root, with ``NET_ADMIN``) in a short-lived helper container that
    joins ``container``'s network namespace: how rules reach a paused node."""
    errors = docker_errors()
    try:
        output = client.containers.run(
            image,
            argv,
            network_mode=f"container:{container}",
            cap_add=["NET_ADMIN"],
            labels=dict(labels),
            remove=True,
            stdout=True,
            stderr=True,
        )
    except errors.ContainerError as exc:
        return int(exc.exit_status), str(exc.stderr or b"", errors="replace")
    return 0, bytes(output).decode(errors="replace")


def network(client: Any, name: str, labels: Mapping[str, str]) -> Any:
    """The run's network ``name``: found by its run label, else created (a bridge)."""
    errors = docker_errors()
    found = client.networks.list(
        names=[name], filters={"label": f"{LABEL_RUN}={labels[LABEL_RUN]}"}
    )
    if found:
        return found[0]
    try:
        return client.networks.create(
            name, driver="bridge", labels=dict(labels), check_duplicate=True
        )
    except errors.APIError as exc:
        raise SetupError(f"cannot create network {name}: {exc.explanation or exc}") from exc


def status(container: Any) -> str:
    """``running``, ``paused``, ``exited``, ... or ``absent`` (never created, or gone)."""
    errors = docker_errors()
    if container is None:
        return "absent"
    try:
        container.reload()
    except errors.NotFound:
        return "absent"
    return str(container.status)


def kill(container: Any) -> None:
    """SIGKILL a running or paused container and wait until it is down."""
    if status(container) not in ("running", "paused"):
        return
    quiet(container.kill)
    quiet(lambda: container.wait(condition="not-running", timeout=30))


def signal(container: Any, sig: int) -> None:
    """Deliver ``sig`` to a running container without waiting for anything.

    SIGKILL goes straight to the container's init, by its process id on this machine:
    the engine's own kill waits for the container to exit, which a node blocked in a
    frozen fault file system cannot do (``Runtime.signal``). The process id is checked
    to be the container's (its mount table names the container's directory), so the pid
    of a remote engine is never signalled here. Other signals go through the engine,
    which delivers them and returns.
    """
    if status(container) not in ("running", "paused"):
        return
    if sig != signals.SIGKILL:
        quiet(lambda: container.kill(signal=int(sig)))
        return
    pid = int(container.attrs.get("State", {}).get("Pid") or 0)
    if not pid or not _runs_here(pid, str(container.id)):
        raise SetupError(
            f"cannot signal container {container.name} directly: its process is not on "
            "this machine (power loss needs the Docker engine on the controller's machine)"
        )
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    except PermissionError:
        raise SetupError(
            f"not permitted to signal container {container.name}'s process {pid}: "
            "power loss in containers needs the controller to run as root"
        ) from None


def _runs_here(pid: int, container_id: str) -> bool:
    """Is ``pid`` of this machine the process of ``container_id`` (by its mount table)?"""
    try:
        with open(f"/proc/{pid}/mountinfo", encoding="utf-8", errors="replace") as table:
            return any(f"/{container_id}/" in line for line in table)
    except OSError:
        return False


def stop(container: Any) -> None:
    """Stop gracefully (SIGTERM, SIGKILL after a grace period), unpausing first."""
    state = status(container)
    if state == "paused":
        quiet(container.unpause)
    if state in ("running", "paused"):
        quiet(lambda: container.stop(timeout=STOP_GRACE_S))


def quiet(call: Callable[[], Any]) -> None:
    """Run a state change that may race with the container's own exit: 409s are fine."""
    errors = docker_errors()
    with contextlib.suppress(errors.NotFound, errors.APIError):
        call()


def follow_logs(container: Any, path: Path, written: list[int], name: str) -> threading.Thread:
    """Copy the container's output to ``path`` as it comes, in a thread.

    Docker keeps one log per container across restarts and replays it from the start,
    so the bytes already copied (``written[0]``) are skipped.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    thread = threading.Thread(
        target=_copy_logs, args=(container, path, written), name=f"logs-{name}", daemon=True
    )
    thread.start()
    return thread


def _copy_logs(container: Any, path: Path, written: list[int]) -> None:
    """Body of the log thread: append the stream past ``written[0]`` bytes to ``path``."""
    skip = written[0]
    try:
        with path.open("ab") as out:
            for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
                if skip >= len(chunk):
                    skip -= len(chunk)
                    continue
                data = chunk[skip:]
                skip = 0
                out.write(data)
                out.flush()
                written[0] += len(data)
    except Exception:  # noqa: BLE001 - the container went away: the stream just ends
        return


def log_tail(container: Any) -> str:
    """The last lines a container wrote, for a one-line error."""
    try:
        text = container.logs(tail=5).decode(errors="replace").strip()
    except Exception:  # noqa: BLE001 - best effort, for an error message
        return "no logs"
    return " | ".join(text.splitlines()[-5:]) or "no output"


async def wait_http(container: Any, name: str, url: str) -> None:
    """Wait until ``url`` answers, failing early when the container exits."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT_S
    async with httpx.AsyncClient(timeout=1.0) as http:
        while True:
            try:
                await http.get(url)
                return
            except httpx.HTTPError:
                pass
            state = await asyncio.to_thread(status, container)
            if state not in ("running", "created") or loop.time() > deadline:
                tail = await asyncio.to_thread(log_tail, container)
                raise SetupError(f"{name} did not answer at {url} ({state}): {tail}")
            await asyncio.sleep(0.1)


# -- cleanup: by label only, so nothing chaoskit did not create is ever touched --------


def _run_filter(run_id: str | None) -> dict[str, str]:
    return {"label": LABEL_RUN if run_id is None else f"{LABEL_RUN}={run_id}"}


def leftovers(run_id: str | None = None, *, client: Any = None) -> list[str]:
    """Containers and networks of ``run_id`` (or of every chaoskit run) that still exist."""
    client = client if client is not None else docker_client()
    flt = _run_filter(run_id)
    found = [f"container {c.name}" for c in client.containers.list(all=True, filters=flt)]
    found += [f"network {n.name}" for n in client.networks.list(filters=flt)]
    return found


def remove_run(client: Any, run_id: str | None) -> list[str]:
    """Force-remove the labelled containers, then their networks; return what went."""
    errors = docker_errors()
    flt = _run_filter(run_id)
    removed = []
    for container in client.containers.list(all=True, filters=flt):
        try:
            container.remove(force=True, v=True)
        except errors.NotFound:
            continue
        except errors.APIError as exc:
            # 409 "removal ... already in progress": an auto-removed helper (the one
            # that changes a paused node's rules) is on its way out already.
            if exc.status_code != 409 or "in progress" not in str(exc.explanation):
                raise
        removed.append(f"container {container.name}")
    for network in client.networks.list(filters=flt):
        with contextlib.suppress(errors.NotFound):
            network.remove()
            removed.append(f"network {network.name}")
    return removed


def cleanup(run_id: str | None = None) -> list[str]:
    """``chaoskit cleanup``: remove what the run ``run_id`` (or every run) left in Docker."""
    return remove_run(docker_client(), run_id)
