"""One reused SSH connection per host (asyncssh), commands with time-outs, one-line errors.

Why a pool: a run sends thousands of short commands (signals, rules, clock files);
a TCP + key exchange per command would cost more than the faults themselves. Each
host gets one connection, opened on first use and opened again when it was lost;
every command is a new channel on it, bounded by a time-out.

Commands are argv lists. SSH hands the remote side one string, which the user's
login shell parses, so an argv is quoted with ``shlex.join`` (never a string built
from user input); scripts of our own go through ``sh -c`` with every value quoted.
Privileged commands (iptables, tc, date) are prefixed with ``sudo -n`` when the host
says ``sudo = true`` and the user is not root; ``-n`` makes a sudo that wants a
password fail at once with a clear message instead of hanging.

Errors a user can hit, each one ``SetupError`` line naming the host:
unreachable (refused, no route, time-out, unknown name), a key file that is no usable
private key (or needs a passphrase: use the agent), key refused, host key not
trusted, a command missing on the host (exit 127), sudo wanting a password, a
command that timed out or failed (its last line of stderr).
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from chaoskit.errors import SetupError
from chaoskit.remote.inventory import Host

with warnings.catch_warnings():
    # asyncssh still imports cryptography's DSA support, which warns on import.
    warnings.filterwarnings("ignore", message=".*DSA.*")
    import asyncssh

#: Short commands in flight per connection: OpenSSH allows 10 sessions (MaxSessions),
#: and node watchers and the clock writer hold some of them for the whole run.
COMMANDS_PER_HOST = 4
KEEPALIVE_S = 5.0


@dataclass(frozen=True)
class Result:
    """What a command came to on the host."""

    exit_status: int
    stdout: str
    stderr: str

    @property
    def last_error(self) -> str:
        lines = (self.stderr or self.stdout).strip().splitlines()
        return lines[-1] if lines else f"exit status {self.exit_status}"


def shell(script: str) -> list[str]:
    """The argv that runs our own POSIX ``script`` on the host, whatever its login shell."""
    return ["sh", "-c", script]


class SshPool:
    """SSH connections to the hosts of an inventory, opened lazily and reused."""

    def __init__(self, hosts: Iterable[Host]) -> None:
        self._hosts = {h.name: h for h in hosts}
        self._conns: dict[str, asyncssh.SSHClientConnection] = {}
        self._locks = {name: asyncio.Lock() for name in self._hosts}
        self._slots = {name: asyncio.Semaphore(COMMANDS_PER_HOST) for name in self._hosts}
        self._listeners: list[asyncssh.SSHListener] = []
        self._closed = False
        self._users = 0

    def acquire(self) -> SshPool:
        """Count one more user (runtime, network, clock): the last ``release`` closes."""
        self._users += 1
        return self

    async def release(self) -> None:
        """One user is done; close the connections when none is left."""
        self._users -= 1
        if self._users <= 0:
            await self.close()

    def host(self, name: str) -> Host:
        return self._hosts[name]

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def hosts(self) -> list[Host]:
        return list(self._hosts.values())

    async def connect(self, name: str) -> asyncssh.SSHClientConnection:
        """The host's connection, (re)opened when needed; ``SetupError`` when impossible."""
        if self._closed:
            raise SetupError("the SSH connections of this run are closed")
        async with self._locks[name]:
            conn = self._conns.get(name)
            if conn is not None and not conn.is_closed():
                return conn
            conn = await open_connection(self._hosts[name])
            self._conns[name] = conn
            return conn

    async def connect_all(self) -> None:
        """Connect to every host at once; the first failure is raised (others still close)."""
        results = await asyncio.gather(
            *(self.connect(n) for n in self._hosts), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def run(
        self,
        name: str,
        argv: Sequence[str],
        *,
        sudo: bool = False,
        check: bool = True,
        timeout: float | None = None,
        input: str | None = None,
    ) -> Result:
        """Run ``argv`` on host ``name``; with ``check``, a failure is a ``SetupError``."""
        host = self._hosts[name]
        command = remote_command(host, argv, sudo=sudo)
        limit = timeout if timeout is not None else host.command_timeout
        conn = await self.connect(name)
        async with self._slots[name]:
            try:
                done = await conn.run(command, input=input, check=False, timeout=limit)
            except asyncssh.TimeoutError as exc:
                raise SetupError(
                    f"host {name}: `{_short(argv)}` timed out after {limit:g} s"
                ) from exc
            except (asyncssh.Error, OSError) as exc:
                raise SetupError(f"host {name}: `{_short(argv)}` failed: {_reason(exc)}") from exc
        result = Result(
            exit_status=done.exit_status if done.exit_status is not None else -1,
            stdout=_text(done.stdout),
            stderr=_text(done.stderr),
        )
        if check and result.exit_status != 0:
            raise command_error(host, argv, result, sudo=sudo)
        return result

    async def open_process(
        self, name: str, argv: Sequence[str], *, sudo: bool = False
    ) -> asyncssh.SSHClientProcess[str]:
        """A long-lived command whose stdin/stdout the caller drives (watchers, writers)."""
        host = self._hosts[name]
        conn = await self.connect(name)
        try:
            return await conn.create_process(remote_command(host, argv, sudo=sudo))
        except (asyncssh.Error, OSError) as exc:
            raise SetupError(f"host {name}: `{_short(argv)}` failed: {_reason(exc)}") from exc

    async def forward(self, name: str, dest_host: str, dest_port: int) -> int:
        """A local port on 127.0.0.1 whose connections go to ``dest_host:dest_port`` as
        the host sees it (SSH local port forwarding); closed with the pool."""
        conn = await self.connect(name)
        try:
            listener = await conn.forward_local_port("127.0.0.1", 0, dest_host, dest_port)
        except (asyncssh.Error, OSError) as exc:
            raise SetupError(
                f"host {name}: cannot forward a port to {dest_host}:{dest_port}: {_reason(exc)}"
            ) from exc
        self._listeners.append(listener)
        return int(listener.get_port())

    async def require(self, name: str, commands: Sequence[str], *, sudo: bool = False) -> None:
        """``SetupError`` naming the first of ``commands`` the host does not have."""
        script = "; ".join(
            f"command -v {shlex.quote(c)} >/dev/null 2>&1 || {{ echo {shlex.quote(c)}; exit 3; }}"
            for c in commands
        )
        result = await self.run(name, shell(script), sudo=sudo, check=False)
        if result.exit_status == 3:
            missing = result.stdout.strip() or commands[0]
            raise SetupError(f"host {name}: command '{missing}' not found on the host")
        if result.exit_status != 0:
            raise command_error(self._hosts[name], shell(script), result, sudo=sudo)

    async def close(self) -> None:
        """Close every tunnel and connection (idempotent)."""
        self._closed = True
        for listener in self._listeners:
            listener.close()
        for listener in self._listeners:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(listener.wait_closed(), 5.0)
        self._listeners.clear()
        conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            conn.close()
        for conn in conns:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 5.0)


async def open_connection(host: Host) -> asyncssh.SSHClientConnection:
    """Open one connection to ``host`` as its inventory entry says."""
    options: dict[str, Any] = {
        "port": host.port,
        "username": host.user,
        "connect_timeout": host.connect_timeout,
        "keepalive_interval": KEEPALIVE_S,
        "keepalive_count_max": 3,
        # None: accept any host key (the explicit opt-out); () : ~/.ssh/known_hosts.
        "known_hosts": None
        if not host.strict_host_keys
        else (str(host.known_hosts) if host.known_hosts else ()),
    }
    if host.key_file is not None:
        options["client_keys"] = [str(host.key_file)]
        if not host.agent:
            options["agent_path"] = None
    try:
        return await asyncssh.connect(host.address, **options)
    except asyncssh.PermissionDenied as exc:
        key = str(host.key_file) if host.key_file else "agent / default keys"
        raise SetupError(f"host {host.name}: {host.login} refused the key ({key})") from exc
    except asyncssh.HostKeyNotVerifiable as exc:
        where = host.known_hosts or "~/.ssh/known_hosts"
        raise SetupError(
            f"host {host.name}: host key of {host.address}:{host.port} is not in {where} "
            "(add it, or set strict_host_keys = false)"
        ) from exc
    except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
        # Read before connecting: a file that is no private key, or one with a passphrase.
        raise SetupError(f"host {host.name}: cannot use key_file {host.key_file}: {exc}") from exc
    except (OSError, asyncssh.Error) as exc:
        raise SetupError(f"host {host.name}: {host.login} unreachable: {_reason(exc)}") from exc


def remote_command(host: Host, argv: Sequence[str], *, sudo: bool = False) -> str:
    """The one string SSH sends: ``argv`` quoted, behind ``sudo -n`` when needed."""
    if not argv:
        raise SetupError(f"host {host.name}: empty command")
    if sudo and host.sudo and host.user != "root":
        argv = ["sudo", "-n", "--", *argv]
    return shlex.join(argv)


def command_error(host: Host, argv: Sequence[str], result: Result, *, sudo: bool) -> SetupError:
    """The one line that says why ``argv`` failed on ``host``."""
    text = f"{result.stderr}\n{result.stdout}"
    if sudo and host.sudo and "password is required" in text:
        return SetupError(
            f"host {host.name}: sudo asks {host.user} for a password "
            "(allow NOPASSWD for chaoskit's commands, or connect as root)"
        )
    if result.exit_status == 127:
        missing = _missing_command(text) or argv[0]
        return SetupError(f"host {host.name}: command '{missing}' not found on the host")
    return SetupError(f"host {host.name}: `{_short(argv)}` failed: {result.last_error}")


def _missing_command(text: str) -> str | None:
    """The name in "sh: 1: foo: not found" / "bash: foo: command not found"."""
    for line in text.splitlines():
        if "not found" in line:
            parts = [p.strip() for p in line.split(":")]
            for i, part in enumerate(parts):
                if "not found" in part and i > 0:
                    return parts[i - 1]
    return None


def _short(argv: Sequence[str]) -> str:
    """A command for a message: our ``sh -c`` scripts by their first line only."""
    if len(argv) == 3 and argv[:2] == ["sh", "-c"]:
        first = argv[2].strip().splitlines()[0] if argv[2].strip() else ""
        return first[:80] + ("..." if len(first) > 80 else "")
    text = shlex.join(argv)
    return text[:120] + ("..." if len(text) > 120 else "")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncssh.DisconnectError | asyncssh.ChannelOpenError):
        return exc.reason or type(exc).__name__
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _text(data: Any) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else str(data)
