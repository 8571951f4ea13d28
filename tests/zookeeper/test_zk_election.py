"""The ``zk-election`` example: the candidate's logic, the target, and a real run.

Unit tests drive ``Candidate`` against a fake kazoo client (no JVM, no thread of
kazoo's); the integration test runs the example through ``chaoskit run`` under
``pause-leader`` and expects the split-brain of a paused lock holder.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaoskit.core.target import NodeInfo
from chaoskit.errors import ConfigError
from chaoskit.targets.zk_election._client import ELECTION, Candidate, parse_args
from chaoskit.targets.zk_election.target import ZkElectionTarget

from .conftest import CliRun

TOKEN = (5 << 32) | 7


@dataclass
class Stat:
    czxid: int


class FakeLock:
    node = "abc__lock__0000000003"


class FakeElection:
    def __init__(self) -> None:
        self.lock = FakeLock()

    def run(self, func: Callable[..., None], *args: Any) -> None:
        func(*args)


class FakeZk:
    """What ``Candidate`` uses of ``KazooClient``; ``exists`` answers from ``present``."""

    connected = True

    def __init__(self) -> None:
        self.listeners: list[Callable[[str], Any]] = []
        self.present = True
        self.exists_calls: list[str] = []

    def Election(self, path: str, identifier: str) -> FakeElection:
        assert (path, identifier) == (ELECTION, "n1")
        return FakeElection()

    def add_listener(self, listener: Callable[[str], Any]) -> None:
        self.listeners.append(listener)

    def exists(self, path: str) -> Stat | None:
        self.exists_calls.append(path)
        return Stat(TOKEN) if self.present else None

    def tell(self, state: str) -> None:
        for listener in self.listeners:
            listener(state)


def _candidate(zk: FakeZk, handling: Any, check_ticks: int = 3) -> Candidate:
    return Candidate(zk, "n1", tick_s=0.002, check_ticks=check_ticks, handling=handling)


def _lead_in_thread(node: Candidate) -> threading.Thread:
    thread = threading.Thread(target=node._lead, args=(FakeElection(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not node.belief[0] and time.monotonic() < deadline:
        time.sleep(0.001)
    assert node.status() == {"role": "leader", "term": TOKEN, "leader": "n1"}
    return thread


def test_elected_candidate_reports_its_lock_znode_czxid_as_term() -> None:
    zk = FakeZk()
    node = _candidate(zk, "listener")
    assert node.status() == {"role": "follower", "term": None, "leader": None}
    thread = _lead_in_thread(node)
    assert zk.exists_calls == [f"{ELECTION}/{FakeLock.node}"]
    node.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert node.status()["role"] == "follower"


def test_campaign_starts_once_connected_and_then_leads() -> None:
    zk = FakeZk()
    zk.connected = False
    node = _candidate(zk, "listener")
    thread = threading.Thread(target=node.campaign, daemon=True)
    thread.start()
    assert not node.campaigning.wait(0.3), "not before kazoo's first connection"
    zk.connected = True
    assert node.campaigning.wait(5)
    deadline = time.monotonic() + 10
    while not node.belief[0] and time.monotonic() < deadline:
        time.sleep(0.001)
    assert node.status()["term"] == TOKEN
    node.stop()
    thread.join(5)
    assert not thread.is_alive()


@pytest.mark.parametrize("state", ["SUSPENDED", "LOST"])
def test_listener_steps_down_at_once_on_suspended_or_lost(state: str) -> None:
    zk = FakeZk()
    node = _candidate(zk, "listener")
    thread = _lead_in_thread(node)
    zk.tell(state)
    assert node.status()["role"] == "follower"  # before the work loop even looked
    thread.join(5)
    assert not thread.is_alive(), "the leadership function returned (the lock is released)"
    assert len(zk.exists_calls) == 1, "the listener mode never polls"


def test_listener_ignores_reconnection_and_followers() -> None:
    zk = FakeZk()
    node = _candidate(zk, "listener")
    zk.tell("LOST")  # not leading: nothing to step down from
    thread = _lead_in_thread(node)
    zk.tell("CONNECTED")
    assert node.status()["role"] == "leader"
    node.stop()
    thread.join(5)


def test_polling_notices_only_at_its_check_ticks() -> None:
    zk = FakeZk()
    node = _candidate(zk, "polling", check_ticks=3)
    assert zk.listeners == [], "the polling candidate registers no listener"
    thread = _lead_in_thread(node)
    zk.present = False  # ZooKeeper expired the session and deleted the znode
    thread.join(5)
    assert not thread.is_alive()
    assert node.status()["role"] == "follower"
    # one exists() when elected, then one every third tick: never per tick
    assert 2 <= len(zk.exists_calls) <= 3


def test_polling_treats_an_unanswered_check_as_lost() -> None:
    from kazoo.exceptions import ConnectionLoss

    zk = FakeZk()
    node = _candidate(zk, "polling", check_ticks=1)
    thread = _lead_in_thread(node)

    def refuse(path: str) -> Stat | None:
        raise ConnectionLoss()

    zk.exists = refuse  # type: ignore[method-assign]
    thread.join(5)
    assert not thread.is_alive()
    assert node.status()["role"] == "follower"


def test_parse_args_takes_the_server_command_after_the_separator() -> None:
    args = parse_args(["--id", "n1", "--listen", "127.0.0.1:1", "--zk", "127.0.0.1:2",
                       "--work-dir", "/tmp/x", "--", "java", "-Xmx1m", "--", "cfg"])  # fmt: skip
    assert args.server == ["java", "-Xmx1m", "--", "cfg"]
    assert args.handling == "polling"
    with pytest.raises(SystemExit):
        parse_args(["--id", "n1", "--listen", "127.0.0.1:1", "--zk", "127.0.0.1:2",
                    "--work-dir", "/tmp/x"])  # fmt: skip


def _node(tmp_path: Path) -> NodeInfo:
    ports = {"api": 7102, "quorum": 7202, "election": 7302, "zk-client": 7402}
    return NodeInfo("n2", 1, "127.0.0.1", ports, tmp_path / "data" / "n2")


def _peers() -> dict[str, dict[str, tuple[str, int]]]:
    return {
        f"n{i}": {"quorum": ("127.0.0.1", 7200 + i), "election": ("127.0.0.1", 7300 + i)}
        for i in (1, 2, 3)
    }


def test_launch_writes_the_server_config_and_passes_its_command(tmp_path: Path) -> None:
    target = ZkElectionTarget()
    target.configure({"handling": "polling", "session-timeout": "3", "check-ticks": "4"})
    launch = target.launch(_node(tmp_path), _peers())
    argv = launch.argv
    sep = argv.index("--")
    mine, server = argv[:sep], argv[sep + 1 :]
    assert mine[1:3] == ["-m", "chaoskit.targets.zk_election"]
    opts = dict(zip(mine[3::2], mine[4::2], strict=True))
    assert opts["--listen"] == "127.0.0.1:7102"
    assert opts["--handling"] == "polling"
    assert opts["--session-timeout"] == "3.0" and opts["--check-ticks"] == "4"
    work = Path(opts["--work-dir"])
    assert server[-1] == str(work / "zoo.cfg")
    cfg = (work / "zoo.cfg").read_text()
    assert f"clientPort={opts['--zk'].rpartition(':')[2]}" in cfg
    assert "server.2=127.0.0.1:7202:7302" in cfg
    assert (work / "myid").read_text().strip() == "2"
    assert "PYTHONPATH" in launch.env


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"color": "red"}, "zk-election option"),
        ({"handling": "hope"}, "handling"),
        ({"session-timeout": "0.5"}, "between 1 and 10"),
        ({"session-timeout": "soon"}, "must be a number"),
        ({"check-ticks": "0"}, "positive"),
    ],
)
def test_bad_options_are_clear_errors(options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ZkElectionTarget().configure(options)


def test_election_timing_follows_the_session_timeout() -> None:
    target = ZkElectionTarget()
    target.configure({"session-timeout": "4"})
    assert target.election_timeout == 4.0
    assert target.election_deadline > 2 * target.election_timeout
    assert target.default_policy == "strict"


async def test_status_is_the_candidates_belief(tmp_path: Path) -> None:
    answers = iter([{"role": "leader", "term": TOKEN, "leader": "n2"}, {"role": "follower"}])

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/status"
        return httpx.Response(200, json=next(answers))

    target, node = ZkElectionTarget(), _node(tmp_path)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        led = await target.status(http, node, 1.0)
        followed = await target.status(http, node, 1.0)
    assert (led.role, led.term, led.leader) == ("leader", TOKEN, "n2")
    assert (followed.role, followed.term, followed.leader) == ("follower", None, None)


@pytest.mark.integration
@pytest.mark.timeout(190)
def test_paused_lock_holder_is_a_split_brain(cli: Any) -> None:
    """The brief's run: the resumed holder still claims the lock another now holds.

    It claims until its next check, 0 to ``check-ticks`` ticks after it resumes (where
    its tick counter stood when it was stopped): one pause in ten resumes right on a
    check tick and steps down before anyone sees it. Several pauses make a run that
    shows nothing as unlikely as it should be (1 in 1000 for three).
    """
    res: CliRun = cli("run", "--target", "zk-election", "--nemesis", "pause-leader",
                      "--nodes", "3", "--time-limit", "40", "--fault-seconds", "4",
                      "--heal-seconds", "4", "--seed", "3", "--no-progress",
                      "-o", "check-ticks=10", timeout=170)  # fmt: skip
    assert res.code == 1, res.stdout + res.stderr
    checker = res.results()["checkers"]["split-brain"]
    assert checker["metrics"]["policy"] == "strict"
    assert checker["anomalies"], checker
    paused = {n for r in res.records("nemesis.jsonl") if r["type"] == "start" for n in r["down"]}
    anomaly = checker["anomalies"][0]
    assert len(set(anomaly["nodes"])) == 2
    assert paused & set(anomaly["nodes"]), "the paused holder is one of the two"
    logs = "".join(p.read_text() for p in (res.run_dir / "logs").glob("*.log"))
    assert "lock znode gone, stepping down" in logs, "it stepped down only at its next check"
    # the two claims are in different terms (lock znode czxids): fencing would save it
    recheck = cli("check", str(res.run_dir), "--policy", "per-term")
    assert recheck.code == 0, recheck.stdout + recheck.stderr
