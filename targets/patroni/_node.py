"""One chaoskit node of the patroni target: an etcd member, Patroni and its PostgreSQL.

Run by Debian's Python (``/usr/bin/python3``, where Debian's ``patroni`` package lives),
as root, with the path of a JSON file the target wrote. Standard library and Patroni
only: chaoskit is not installed for that interpreter.

What chaoskit needs from a node, and why this wrapper exists:

- All of a node's processes die on ``kill`` and stop on ``pause``: chaoskit signals the
  node's process group. Patroni starts PostgreSQL in a session of its own (``setsid``
  in ``patroni.postgresql.postmaster.pg_ctl_start``), so the wrapper replaces that one
  function with the same code minus ``setsid``: PostgreSQL stays in the node's group.
- Peer connections are told apart by the process that opened them (destination-mode
  proxies, chaoskit/network/sources.py), which must descend from the node's process. Patroni
  double-forks the postmaster, which would then be re-parented to init; the wrapper
  is a child subreaper, so the postmaster is re-parented to it instead, and a thread
  reaps it when it exits (Patroni waits for it by polling, not ``waitpid``).
- PostgreSQL refuses to run as root: the wrapper drops to the ``postgres`` user, then
  starts etcd (which dies with the wrapper: ``PR_SET_PDEATHSIG``, and is stopped when
  Patroni exits) and waits until etcd has decided its cluster version (Patroni 3.0.2
  crashes on etcd's ``not_decided``), then runs Patroni in this process.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import pwd
import signal
import subprocess
import sys
import threading
import time
import urllib.request

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
REAP_EVERY_S = 0.2
#: How long etcd may take to form its cluster before Patroni starts anyway.
ETCD_READY_S = 60.0


def _pg_ctl_start(conn, cmdline, env):  # type: ignore[no-untyped-def]
    """Patroni 3.0's ``pg_ctl_start`` without ``os.setsid()`` (see the module doc)."""
    try:
        postmaster = subprocess.Popen(cmdline, close_fds=True, env=env)
        conn.send(postmaster.pid)
    except Exception:  # noqa: BLE001 - as Patroni's own: report "no postmaster"
        conn.send(None)
    conn.close()


def _state_and_parent(pid: int) -> tuple[str, int] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def _reaper(pidfile: str) -> None:
    """Reap exited postmasters re-parented to this process (and nothing else: Patroni's
    own subprocesses are waited for by Patroni)."""
    known: set[int] = set()
    me = os.getpid()
    while True:
        try:
            with open(pidfile) as f:
                known.add(int(f.readline().strip()))
        except (OSError, ValueError):
            pass
        for pid in list(known):
            info = _state_and_parent(pid)
            if info is None or info[1] != me:
                if info is None:
                    known.discard(pid)
                continue
            if info[0] == "Z":
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
                known.discard(pid)
        time.sleep(REAP_EVERY_S)


def _drop_to(user: str, paths: list[str]) -> None:
    entry = pwd.getpwnam(user)
    for path in paths:
        os.makedirs(path, exist_ok=True)
        os.chown(path, entry.pw_uid, entry.pw_gid)
        os.chmod(path, 0o700)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    os.environ.update(HOME=entry.pw_dir, USER=user, LOGNAME=user)


def _die_with_parent() -> None:
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _wait_for_etcd(url: str, etcd: subprocess.Popen[bytes]) -> None:
    """Until etcd answers ``/version`` with a decided cluster version."""
    deadline = time.monotonic() + ETCD_READY_S
    while time.monotonic() < deadline and etcd.poll() is None:
        try:
            with urllib.request.urlopen(url + "/version", timeout=1) as resp:
                if json.load(resp).get("etcdcluster", "not_decided") != "not_decided":
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.1)


def main(config_path: str) -> None:
    with open(config_path) as f:
        config = json.load(f)
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    _drop_to(config["user"], config["owned_dirs"])
    # In this process group, so it dies and stops with the node; and with the wrapper.
    etcd = subprocess.Popen(
        config["etcd_argv"], stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent
    )
    try:
        _wait_for_etcd(config["etcd_url"], etcd)
        pidfile = os.path.join(config["pg_data"], "postmaster.pid")
        threading.Thread(target=_reaper, args=(pidfile,), daemon=True, name="reaper").start()
        import patroni.postgresql.postmaster as postmaster
        from patroni.__main__ import main as patroni_main

        postmaster.pg_ctl_start = _pg_ctl_start
        sys.argv = ["patroni", config["patroni_config"]]
        patroni_main()
    finally:
        etcd.terminate()
        etcd.wait()


if __name__ == "__main__":
    main(sys.argv[1])
