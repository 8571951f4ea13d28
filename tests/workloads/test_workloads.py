"""Workloads: op vocabulary, models, and ops that depend only on the seed."""

from __future__ import annotations

import random

import pytest

from chaoskit import workloads
from chaoskit.core.workload import Workload
from chaoskit.workloads._register import KEYS, MAX_VALUE


def ops(workload: Workload, seed: int, n: int = 200) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        op = workload.next_op(rng)
        assert op is not None
        out.append(op)
    return out


@pytest.mark.parametrize(
    ("cls", "name", "model", "checkers"),
    [
        (workloads.RegisterWorkload, "register", "register", ("linearizable",)),
        (workloads.KvWorkload, "kv", "kv", ("linearizable",)),
        (workloads.SetWorkload, "set", None, ("lost-writes",)),
        (workloads.NoWorkload, "none", None, ()),
    ],
)
def test_workloads_declare_their_model_and_checkers(
    cls: type, name: str, model: str | None, checkers: tuple[str, ...]
) -> None:
    w = cls()
    assert isinstance(w, Workload)
    assert (w.name, w.model, w.checkers) == (name, model, checkers)
    assert w.description


def test_register_ops_are_reads_writes_and_cas_on_a_few_keys() -> None:
    drawn = ops(workloads.RegisterWorkload(), 1, 600)
    assert {op["f"] for op in drawn} == {"read", "write", "cas"}
    assert {op["key"] for op in drawn} == set(KEYS)
    for op in drawn:
        if op["f"] == "read":
            assert op["value"] is None
        elif op["f"] == "write":
            assert isinstance(op["value"], int) and 0 <= op["value"] <= MAX_VALUE
        else:
            old, new = op["value"]  # type: ignore[misc]
            assert 0 <= old <= MAX_VALUE and 0 <= new <= MAX_VALUE
    assert workloads.RegisterWorkload().final_ops() == []


def test_register_same_seed_same_ops() -> None:
    assert ops(workloads.RegisterWorkload(), 9) == ops(workloads.RegisterWorkload(), 9)
    assert ops(workloads.RegisterWorkload(), 9) != ops(workloads.RegisterWorkload(), 10)


def test_kv_puts_faker_words_on_many_keys_reproducibly() -> None:
    first = ops(workloads.KvWorkload(), 3, 400)
    assert {op["f"] for op in first} == {"get", "put"}
    assert len({op["key"] for op in first}) > 30
    puts = [op["value"] for op in first if op["f"] == "put"]
    assert all(isinstance(v, str) and v.isalpha() for v in puts)
    assert len(set(puts)) > 20
    assert all(op["value"] is None for op in first if op["f"] == "get")
    assert ops(workloads.KvWorkload(), 3, 400) == first
    assert ops(workloads.KvWorkload(), 4, 400) != first


def test_kv_values_per_generator_do_not_depend_on_interleaving() -> None:
    """Two clients drawing in different orders still each get the same ops."""
    a = workloads.KvWorkload()
    r1, r2 = random.Random(1), random.Random(2)
    alternating = [(a.next_op(r1), a.next_op(r2)) for _ in range(50)]
    b = workloads.KvWorkload()
    s1, s2 = random.Random(1), random.Random(2)
    only_2 = [b.next_op(s2) for _ in range(50)]
    only_1 = [b.next_op(s1) for _ in range(50)]
    assert [x for x, _ in alternating] == only_1
    assert [y for _, y in alternating] == only_2


def test_set_adds_unique_values_then_reads_the_set() -> None:
    w = workloads.SetWorkload()
    drawn = ops(w, 1, 100) + ops(w, 2, 100)
    assert all(op["f"] == "add" and op["key"] == "s" for op in drawn)
    values = [op["value"] for op in drawn]
    assert len(set(values)) == len(values) == 200
    assert w.final_ops() == [{"f": "read-set", "key": "s", "value": None}]


def test_none_has_nothing_to_do() -> None:
    w = workloads.NoWorkload()
    assert w.next_op(random.Random(1)) is None
    assert w.final_ops() == []
