"""The etcd target without etcd: command line, gateway encoding, status, options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from chaoskit.core.target import NodeInfo, Target
from chaoskit.errors import ConfigError, SetupError
from chaoskit.targets.etcd import _gateway as gw
from chaoskit.targets.etcd._command import Timing, find_binary, member_argv
from chaoskit.targets.etcd.target import EtcdTarget
from chaoskit.targets.etcd_election.target import EtcdElectionTarget

NODE = NodeInfo("n2", 1, "127.0.0.1", {"client": 2379, "peer": 2380}, Path("/tmp/run/data/n2"))


def test_member_argv_advertises_the_proxy_and_listens_on_the_real_ports() -> None:
    fronts = {"n1": ("127.0.0.1", 9001), "n2": ("127.0.0.1", 9002)}
    argv = member_argv("etcd", "n2", NODE.data_dir, ("127.0.0.1", 2379), ("127.0.0.1", 2380),
                       fronts, token="t", timing=Timing(50, 500, False))  # fmt: skip
    opts = dict(zip(argv[1::2], argv[2::2], strict=False))
    assert opts["--listen-peer-urls"] == "http://127.0.0.1:2380"
    assert opts["--initial-advertise-peer-urls"] == "http://127.0.0.1:9002"
    assert opts["--initial-cluster"] == "n1=http://127.0.0.1:9001,n2=http://127.0.0.1:9002"
    assert opts["--listen-client-urls"] == "http://127.0.0.1:2379"
    assert opts["--election-timeout"] == "500" and opts["--heartbeat-interval"] == "50"
    assert "--pre-vote=false" in argv


def test_missing_binary_is_a_one_line_setup_error_naming_the_package() -> None:
    with pytest.raises(SetupError) as info:
        find_binary("no-such-etcd-binary")
    assert "etcd-server" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(SetupError, match="etcd-server"):
        EtcdTarget().configure({"binary": "no-such-etcd-binary"})
    with pytest.raises(SetupError, match="etcd-server"):
        EtcdElectionTarget().configure({"binary": "no-such-etcd-binary"})


@pytest.mark.parametrize(
    ("options", "message"),
    [({"bogus": "1"}, "unknown etcd option 'bogus'"), ({"election-ms": "x"}, "whole number"),
     ({"pre-vote": "maybe"}, "true or false"), ({"heartbeat-ms": "500"}, "5 times")],
)  # fmt: skip
def test_bad_options_are_config_errors(options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        EtcdTarget().configure(options)


def test_targets_satisfy_the_protocol_and_ask_for_destination_proxies() -> None:
    for target in (EtcdTarget(), EtcdElectionTarget()):
        assert isinstance(target, Target)
        assert target.proxy_mode == "destination"
        assert [p.name for p in target.ports if p.peer] == ["peer"]
        assert not target.ports[0].peer  # status on a client port that faults never cut
    assert EtcdTarget().default_policy == "per-term"
    assert EtcdElectionTarget().default_policy == "strict"


def test_status_parsing_reads_strings_and_absent_leader() -> None:
    body = {"header": {"member_id": "11"}, "leader": "11", "raftTerm": "4"}
    assert gw.parse_status(body) == gw.MemberStatus("11", "11", 4)
    assert gw.parse_status({"header": {"member_id": "11"}}).leader is None
    with pytest.raises(ValueError):
        gw.parse_status({"leader": "11"})


def test_kv_requests_encode_json_values_in_base64() -> None:
    path, body = gw.kv_request({"f": "cas", "key": "k1", "value": [1, 3]})
    assert path == gw.TXN
    assert gw.unb64(body["compare"][0]["value"]) == "1"
    assert gw.unb64(body["success"][0]["requestPut"]["value"]) == "3"
    assert gw.kv_request({"f": "read", "key": "k1"}) == (gw.RANGE, {"key": gw.b64("k1")})
    with pytest.raises(ConfigError):
        gw.kv_request({"f": "delete", "key": "k1"})


def test_kv_outcomes() -> None:
    read = {"f": "read", "key": "k"}
    stored = {"kvs": [{"value": gw.encode_value(3)}]}
    assert gw.kv_outcome(read, stored).value == 3
    assert gw.kv_outcome(read, {}).value is None
    assert gw.kv_outcome({"f": "cas", "value": [1, 2]}, {}).type == "fail"
    assert gw.kv_outcome({"f": "cas", "value": [1, 2]}, {"succeeded": True}).type == "ok"


def _fake_etcd(statuses: list[dict[str, Any]], read_ok: bool) -> httpx.AsyncClient:
    """A member that answers status from ``statuses`` in turn and reads as told."""
    members = {"members": [{"ID": "1", "name": "n1"}, {"ID": "2", "name": "n2"}]}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == gw.STATUS:
            return httpx.Response(200, json=statuses.pop(0))
        if request.url.path == gw.MEMBERS:
            return httpx.Response(200, json=members)
        if request.url.path == gw.RANGE and read_ok:
            return httpx.Response(200, json={})
        return httpx.Response(503, json={"message": "etcdserver: request timed out", "code": 14})

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def _st(leader: str | None, term: int) -> dict[str, Any]:
    body: dict[str, Any] = {"header": {"member_id": "2"}, "raftTerm": str(term)}
    if leader:
        body["leader"] = leader
    return body


async def test_a_new_leader_reports_its_term_after_the_confirming_read() -> None:
    async with _fake_etcd([_st("2", 3), _st("2", 4)], read_ok=True) as http:
        status = await EtcdTarget().status(http, NODE, 1.0)
    assert (status.role, status.term, status.leader) == ("leader", 4, "n2")


async def test_a_stale_leader_keeps_its_own_term_when_the_read_cannot_complete() -> None:
    async with _fake_etcd([_st("2", 3)], read_ok=False) as http:
        status = await EtcdTarget().status(http, NODE, 1.0)
    assert (status.role, status.term) == ("leader", 3)


async def test_followers_name_the_leader_and_no_leader_means_candidate() -> None:
    async with _fake_etcd([_st("1", 3), _st(None, 3)], read_ok=True) as http:
        target = EtcdTarget()
        follower = await target.status(http, NODE, 1.0)
        candidate = await target.status(http, NODE, 1.0)
    assert (follower.role, follower.leader) == ("follower", "n1")
    assert (candidate.role, candidate.leader) == ("candidate", None)


async def test_write_errors_are_info_unless_definite_and_read_errors_fail() -> None:
    async with _fake_etcd([], read_ok=False) as http:
        target = EtcdTarget()
        write = await target.invoke(http, NODE, {"f": "write", "key": "k", "value": 1}, 1.0)
        read = await target.invoke(http, NODE, {"f": "read", "key": "k"}, 1.0)
    assert write.type == "info" and read.type == "fail"
    assert gw.GatewayError(429, "etcdserver: too many requests").definite
    assert write.error == "etcdserver: request timed out"
