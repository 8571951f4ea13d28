"""An unprivileged local user, made for a test and removed after it.

The user is created with ``useradd`` (a system account, no home, no login shell), its
programs run through ``setpriv`` (which execs, so the process we wait for is the
user's own) with the system Python and the standard library only: it has none of
the test's privileges, files or environment. Outside CI a test skips when it is not
root; under CI (which runs as root) a skip fails the run.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

PYTHON = "/usr/bin/python3"

#: Runs as the intruder: each step of the plan on stdin is an HTTP request or a file
#: read; prints one JSON result per step. Standard library only.
SCRIPT = r"""
import http.client, json, sys
results = []
for step in json.load(sys.stdin):
    if step["kind"] == "read":
        try:
            with open(step["path"], "rb") as f:
                results.append({"read": f.read().decode("latin-1")})
        except OSError as exc:
            results.append({"error": type(exc).__name__})
        continue
    conn = http.client.HTTPConnection(step["host"], step["port"], timeout=10)
    body = step.get("body")
    headers = step.get("headers", {})
    try:
        conn.request(step["method"], step["path"], body=body, headers=headers)
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        results.append({"status": resp.status, "body": text,
                        "auth": resp.getheader("WWW-Authenticate")})
    except OSError as exc:
        results.append({"error": type(exc).__name__})
    finally:
        conn.close()
print(json.dumps(results))
"""


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    *,
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
    host: str = "127.0.0.1",
) -> dict[str, Any]:
    """One HTTP step of a plan (``body``: JSON-encoded unless already a string)."""
    data = body if body is None or isinstance(body, str) else json.dumps(body)
    all_headers = dict(headers or {})
    if data is not None and content_type is not None:
        all_headers.setdefault("Content-Type", content_type)
    return {
        "kind": "http",
        "host": host,
        "port": port,
        "method": method,
        "path": path,
        "body": data,
        "headers": all_headers,
    }


def read(path: str) -> dict[str, Any]:
    return {"kind": "read", "path": path}


@dataclass
class Intruder:
    """A throw-away local user that runs plans of requests and reads."""

    name: str
    uid: int
    gid: int

    def run(self, plan: list[dict[str, Any]], timeout: float = 60.0) -> list[dict[str, Any]]:
        argv = [
            "setpriv",
            f"--reuid={self.uid}",
            f"--regid={self.gid}",
            "--clear-groups",
            "--",
            PYTHON,
            "-c",
            SCRIPT,
        ]
        env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8"}
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd="/",
        )
        try:
            out, err = proc.communicate(json.dumps(plan), timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        assert proc.returncode == 0, err
        results: list[dict[str, Any]] = json.loads(out)
        return results


def _can_make_users() -> str | None:
    if os.geteuid() != 0:
        return "not root: cannot create a throw-away user"
    for tool in ("useradd", "userdel", "setpriv"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not os.access(PYTHON, os.X_OK):
        return f"{PYTHON} is missing"
    return None


@pytest.fixture(scope="module")
def intruder() -> Iterator[Intruder]:
    why = _can_make_users()
    if why:
        pytest.skip(why)
    name = f"ckx{secrets.token_hex(4)}"
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    try:
        entry = pwd.getpwnam(name)
        assert entry.pw_uid != 0
        yield Intruder(name, entry.pw_uid, entry.pw_gid)
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)
    with pytest.raises(KeyError):
        pwd.getpwnam(name)
