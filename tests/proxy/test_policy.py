"""The access rules of the fault API, the audit trail and drift, as pure functions."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from chaoskit.errors import ConfigError, ProxyError
from chaoskit.proxy import ApiChange, AuditTrail, Policy, ProxyInfo, ToxicInfo
from chaoskit.proxy._audit import ChangeLog, summarize_body
from chaoskit.proxy._cli import read_token_file
from chaoskit.proxy._drift import Drift, Ledger, compare
from chaoskit.proxy._policy import host_of_header, is_loopback


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("127.0.0.1:8474", "127.0.0.1"),
        ("localhost", "localhost"),
        ("[::1]:8474", "::1"),
        ("::1", "::1"),
        ("Evil.Example:80", "Evil.Example"),
        ("", None),
        ("a:b:c", None),
        ("[::1", None),
    ],
)
def test_host_header_parsing(header: str, host: str | None) -> None:
    assert host_of_header(header) == host


def test_loopback_names_and_addresses() -> None:
    for host in ("127.0.0.1", "127.9.8.7", "::1", "localhost", "LOCALHOST.", "::ffff:127.0.0.1"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "10.0.0.1", "localhost.evil.example", "evil.localhost", ""):
        assert not is_loopback(host), host


def test_host_check_refuses_rebinding_names_and_accepts_allowed_ones() -> None:
    policy = Policy()
    assert policy.host_problem("127.0.0.1:1") is None
    assert policy.host_problem("localhost:8474") is None
    assert policy.host_problem("[::1]:8474") is None
    assert "evil.example" in (policy.host_problem("evil.example:8474") or "")
    assert "missing" in (policy.host_problem(None) or "")
    allowed = Policy.build(allow_hosts=["Proxy.Internal"])
    assert allowed.host_problem("proxy.internal:8474") is None
    assert policy.with_host("0.0.0.0") == policy  # a wildcard names no one
    assert policy.with_host("192.0.2.7").host_problem("192.0.2.7:8474") is None


def test_origin_is_refused_unless_allowed() -> None:
    assert Policy().origin_problem(None) is None
    assert Policy().origin_problem("http://evil.example") is not None
    assert Policy().origin_problem("null") is not None
    allowed = Policy.build(allow_origins=["http://localhost:3000/"])
    assert allowed.origin_problem("http://localhost:3000") is None
    assert allowed.origin_problem("http://localhost:3001") is not None


def test_listen_addresses_are_loopback_unless_allowed() -> None:
    policy = Policy()
    for listen in ("127.0.0.1:0", "localhost:9000", "[::1]:0", ":0"):
        policy.check_listen(listen)
    for listen in ("0.0.0.0:0", "[::]:0", "192.0.2.1:80", "myhost:80"):
        with pytest.raises(ProxyError) as caught:
            policy.check_listen(listen)
        assert caught.value.status == 403
    Policy(allow_remote_listen=True).check_listen("0.0.0.0:0")


def refused(policy: Policy, upstream: str) -> bool:
    try:
        policy.check_upstream(upstream)
    except ProxyError as exc:
        assert exc.status == 403
        return True
    return False


def test_metadata_upstreams_are_refused_by_default() -> None:
    policy = Policy()
    for upstream in (
        "169.254.169.254:80",
        "[fe80::1]:80",
        "[fd00:ec2::254]:80",
        "100.100.100.200:80",
        "[::ffff:169.254.169.254]:80",
    ):
        assert refused(policy, upstream), upstream
    for upstream in ("127.0.0.1:80", "10.1.2.3:5432", "postgres:5432"):
        assert not refused(policy, upstream), upstream
    assert not refused(Policy(allow_metadata_upstream=True), "169.254.169.254:80")


def test_upstream_allow_list() -> None:
    policy = Policy.build(allow_upstreams=["172.18.0.0/16", "ck-r1-*"])
    assert not refused(policy, "127.0.0.1:1")
    assert not refused(policy, "localhost:1")
    assert not refused(policy, "172.18.0.5:8000")
    assert not refused(policy, "CK-R1-N2:8000")
    assert refused(policy, "172.19.0.5:8000")
    assert refused(policy, "ck-r2-n2:8000")
    assert refused(policy, "169.254.169.254:80")
    assert refused(Policy(allow_upstreams=()), "10.0.0.1:80")  # loopback only
    listed = Policy.build(allow_upstreams=["169.254.0.0/16"])
    assert not refused(listed, "169.254.169.254:80")  # listed explicitly: intended


def test_resolved_addresses_of_names() -> None:
    policy = Policy.build(allow_upstreams=["ck-r1-*"])
    assert policy.resolved_check_needed("ck-r1-n1")
    assert not policy.resolved_check_needed("127.0.0.1")
    assert policy.resolved_allowed("172.18.0.3")  # the allowed name's own address
    assert not policy.resolved_allowed("169.254.169.254")
    assert not policy.resolved_allowed("fe80::1")
    assert not Policy(allow_metadata_upstream=True).resolved_check_needed("metadata.internal")


def test_client_networks() -> None:
    assert Policy().client_allowed("203.0.113.9")
    policy = Policy.build(allow_clients=["127.0.0.0/8", "172.18.0.1"])
    assert policy.client_allowed("127.0.0.1")
    assert policy.client_allowed("172.18.0.1")
    assert not policy.client_allowed("172.18.0.2")
    assert not policy.client_allowed(None)
    with pytest.raises(ConfigError, match="not an IP network"):
        Policy.build(allow_clients=["gateway"])


def change(seq: int, status: int = 200, client: str | None = "other", **kw: Any) -> ApiChange:
    values: dict[str, Any] = {
        "seq": seq,
        "method": "POST",
        "path": "/proxies/a",
        "status": status,
        "body": {"enabled": False},
        "authenticated": True,
        "client": client,
        "peer": "127.0.0.1:5",
        "host": "127.0.0.1:1",
        "origin": None,
        "user_agent": "curl",
        **kw,
    }
    return ApiChange(**values)


def test_change_log_numbers_and_drops() -> None:
    log = ChangeLog(size=3)
    for seq in range(1, 6):
        assert log.next_seq() == seq
        log.add(change(seq))
    page = log.since(0)
    assert [c["seq"] for c in page["changes"]] == [3, 4, 5]
    assert (page["last"], page["dropped"]) == (5, 2)
    assert log.since(4)["dropped"] == 0 and [c["seq"] for c in log.since(4)["changes"]] == [5]
    assert log.since(5) == {"changes": [], "last": 5, "dropped": 0}
    assert ApiChange.from_json(page["changes"][0]) == change(3)


def test_audit_trail_records_foreign_changes_and_bounds_refusals() -> None:
    written: list[dict[str, Any]] = []
    trail = AuditTrail(written.append, lambda: 42, own_client="me", refused_limit=2)
    trail(change(1, client="me"))  # the controller's own: already a fault record
    trail(change(2, client="me", authenticated=False, status=401))  # claimed, not proven
    trail(change(3))
    for seq in range(4, 8):
        trail(change(seq, status=401, authenticated=False))
    trail.close()
    assert [r.get("seq") for r in written] == [2, 3, 4, None]
    assert written[1] == {
        "type": "api",
        "time": 42,
        "seq": 3,
        "method": "POST",
        "path": "/proxies/a",
        "status": 200,
        "body": {"enabled": False},
        "authenticated": True,
        "client": "other",
        "peer": "127.0.0.1:5",
        "host": "127.0.0.1:1",
        "origin": None,
        "user_agent": "curl",
    }
    assert written[-1] == {"type": "api-refused-dropped", "time": 42, "count": 3}
    assert trail.foreign == 1


def test_body_summary() -> None:
    assert summarize_body(b"") is None
    assert summarize_body(b'{"enabled": false}') == {"enabled": False}
    assert summarize_body(b"enabled=false") == "enabled=false"
    long = summarize_body(b'{"x": "' + b"y" * 5000 + b'"}')
    assert isinstance(long, str) and long.endswith("(5009 bytes)")


def info(name: str, enabled: bool = True, toxics: list[ToxicInfo] | None = None) -> ProxyInfo:
    return ProxyInfo(name, "127.0.0.1:1", "127.0.0.1:2", enabled, toxics or [])


def test_drift_lists_every_difference() -> None:
    ledger = Ledger()
    ledger.proxy(info("ck-r-a"), with_toxics=True)
    ledger.proxy(info("ck-r-b"), with_toxics=True)
    hang = ToxicInfo("hang", "timeout", attributes={"timeout": 0})
    ledger.toxic("ck-r-a", hang)
    ledger.proxy(info("ck-r-a", enabled=False))  # an update keeps the ledger's toxics
    assert (
        compare(ledger.proxies, {"ck-r-a": info("ck-r-a", False, [hang]), "ck-r-b": info("ck-r-b")})
        == []
    )
    slow = ToxicInfo("slow", "latency", attributes={"latency": 100, "jitter": 0})
    actual = {
        "ck-r-a": info("ck-r-a", True, [slow]),
        "ck-r-x": info("ck-r-x"),
        "other": info("other"),
    }
    drifts = compare(ledger.proxies, actual, prefix="ck-r-")
    assert drifts == [
        Drift("ck-r-a", "enabled", False, True),
        Drift("ck-r-a", "toxic:hang", compare_json(hang), None),
        Drift("ck-r-a", "toxic:slow", None, compare_json(slow)),
        Drift("ck-r-b", "proxy", "present", "absent"),
        Drift("ck-r-x", "proxy", "absent", "present"),
    ]
    assert drifts[0].record(7) == {
        "type": "drift",
        "time": 7,
        "proxy": "ck-r-a",
        "field": "enabled",
        "expected": False,
        "actual": True,
    }
    ledger.reset()
    ledger.forget("ck-r-b")
    assert compare(ledger.proxies, {"ck-r-a": info("ck-r-a")}) == []


def compare_json(toxic: ToxicInfo) -> dict[str, Any]:
    return {
        "type": toxic.type,
        "stream": toxic.stream,
        "toxicity": toxic.toxicity,
        "attributes": toxic.attributes,
    }


def test_token_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("s3cret-token-of-enough-length\n")
    os.chmod(path, 0o600)
    assert read_token_file(path) == "s3cret-token-of-enough-length"
    os.chmod(path, 0o640)
    with pytest.raises(ConfigError, match=r"accessible to other users .*chmod 600"):
        read_token_file(path)
    os.chmod(path, 0o600)
    path.write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        read_token_file(path)
    with pytest.raises(ConfigError, match="cannot read token file"):
        read_token_file(tmp_path / "missing")
