"""``chaoskit nightly merge``: shards back into one night, and what did not come back."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from chaoskit.errors import ConfigError
from chaoskit.nightly.identity import matrix_digest
from chaoskit.nightly.matrix import load_matrix
from chaoskit.nightly.merge import merge_night
from chaoskit.nightly.shard import Shard
from chaoskit.nightly.shard_run import run_shard

from .conftest import (
    MATRIX,
    NIGHT1,
    comparable,
    quiet,
    shard_stores,
    single_night,
    synthetic_runner,
    write_matrix,
)

pytestmark = pytest.mark.slow


def merged(store: Path) -> tuple[dict[str, Any], str]:
    (path,) = (store / "nightly").glob("*/summary.json")
    return json.loads(path.read_text()), (path.parent / "report.html").read_text()


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One night run twice: on one machine, and as 3 shards in 3 stores."""
    root = tmp_path_factory.mktemp("night")
    matrix = write_matrix(root)
    return {
        "matrix": matrix,
        "single": single_night(matrix, root / "single"),
        "shards": shard_stores(matrix, root),
    }


def test_merged_shards_are_the_single_machine_night(night: dict[str, Any], tmp_path: Path) -> None:
    store = tmp_path / "merged"
    assert merge_night(night["shards"], store, console=quiet()) == 1  # bully fails
    summary, page = merged(store)
    single = night["single"]
    assert comparable(summary["cells"]) == comparable(single["cells"])
    assert [c["status"] for c in summary["cells"]] == ["pass", "pass", "fail"]
    for key in ("status", "exit_status", "night", "matrix_digest", "matrix_file"):
        assert summary[key] == single[key], key
    assert [(s["index"], s["status"]) for s in summary["shards"]] == [
        (1, "done"),
        (2, "done"),
        (3, "done"),
    ]
    assert sum(s["runs"] for s in summary["shards"]) == 6 and summary["warnings"] == []
    # Every run's folder came along, with the reports the night's page links to.
    for cell in summary["cells"]:
        for run in cell["runs"]:
            assert (store / run["run_dir"] / "report.html").is_file()
            assert f'href="../../{run["run_dir"]}/report.html"' in page
    assert "All 3 shards finished" in page and 'id="verdict">fail<' in page


def test_a_missing_shard_is_named_and_is_not_a_pass(night: dict[str, Any], tmp_path: Path) -> None:
    first, _, third = night["shards"]
    store = tmp_path / "merged"
    assert merge_night([first, third], store, console=quiet()) == 1
    summary, page = merged(store)
    assert summary["status"] == "fail" and summary["exit_status"] == 1
    (missing_shard,) = [s for s in summary["shards"] if s["status"] != "done"]
    assert missing_shard["index"] == 2 and missing_shard["status"] == "missing"
    missing = [
        (c["key"], r["seed"])
        for c in summary["cells"]
        for r in c["runs"]
        if r["verdict"] == "missing"
    ]
    assert missing and len(missing) == missing_shard["assigned"]
    assert all(
        r["error"] == "shard 2/3 never reported"
        for c in summary["cells"]
        for r in c["runs"]
        if r["verdict"] == "missing"
    )
    assert "shard 2/3 missing" in page.split('id="shards-missing">')[1].split("</p>")[0]


def test_a_night_whose_cells_all_pass_still_fails_without_a_shard(tmp_path: Path) -> None:
    matrix = write_matrix(tmp_path, MATRIX.replace('"raft", "bully"', '"raft"'))
    one, _ = shard_stores(matrix, tmp_path / "s", count=2)
    # Shard 2's runs were all raft cells that pass; they are missing now.
    assert merge_night([one], tmp_path / "m", console=quiet()) == 1
    summary, _ = merged(tmp_path / "m")
    assert summary["status"] == "fail"
    assert "missing" in [c["status"] for c in summary["cells"]]


def test_a_shard_stopped_half_way_keeps_its_runs_and_is_named(tmp_path: Path) -> None:
    matrix = write_matrix(tmp_path)
    stores = shard_stores(matrix, tmp_path / "s", count=2)
    broken = tmp_path / "s" / "broken-2"
    with pytest.raises(KeyboardInterrupt):
        run_shard(
            matrix, broken, synthetic_runner(NIGHT1, fail_at=2), Shard(2, 2), "n1", console=quiet()
        )
    (doc_path,) = broken.glob("nightly-shards/n1/*/shard-2-of-2.json")
    doc = json.loads(doc_path.read_text())
    assert doc["status"] == "interrupted" and len(doc["runs"]) == 1
    assert merge_night([stores[0], broken], tmp_path / "m", console=quiet()) == 1
    summary, _ = merged(tmp_path / "m")
    assert summary["shards"][1]["status"] == "interrupted" and summary["shards"][1]["runs"] == 1
    notes = {
        r.get("error") for c in summary["cells"] for r in c["runs"] if r["verdict"] == "missing"
    }
    assert notes == {"shard 2/2 did not finish (interrupted)"}
    # A shard killed outright leaves "running": not finished either.
    doc["status"] = "running"
    doc_path.write_text(json.dumps(doc))
    assert merge_night([stores[0], broken], tmp_path / "m2", console=quiet()) == 1
    summary, _ = merged(tmp_path / "m2")
    assert summary["shards"][1]["status"] == "running"
    # The retried job's finished shard wins over the one that broke.
    assert merge_night([stores[0], broken, stores[1]], tmp_path / "m3", console=quiet()) == 1
    summary, _ = merged(tmp_path / "m3")
    assert [s["status"] for s in summary["shards"]] == ["done", "done"]
    assert not [r for c in summary["cells"] for r in c["runs"] if r["verdict"] == "missing"]


def test_nights_and_matrices_are_never_mixed(night: dict[str, Any], tmp_path: Path) -> None:
    matrix = night["matrix"]
    other_night = shard_stores(matrix, tmp_path / "n2", night_id="n2")
    with pytest.raises(ConfigError) as info:
        merge_night([*night["shards"], *other_night], tmp_path / "m", console=quiet())
    message = str(info.value)
    assert "night n1" in message and "night n2" in message and "--night" in message
    assert "shard 2/3 (" in message  # says which shard is which
    # Asked for one night, the merge takes it and leaves the other alone.
    both = [*night["shards"], *other_night]
    assert merge_night(both, tmp_path / "m", night="n2", console=quiet()) == 1
    assert merged(tmp_path / "m")[0]["night"] == "n2"

    changed = write_matrix(tmp_path / "other", MATRIX.replace("seeds = [1, 2]", "seeds = [1]"))
    other_matrix = shard_stores(changed, tmp_path / "mx", count=1)
    with pytest.raises(ConfigError, match="2 nights or matrices"):
        merge_night([*night["shards"], *other_matrix], tmp_path / "m2", console=quiet())
    assert (
        merge_night(
            [*night["shards"], *other_matrix],
            tmp_path / "m2",
            matrix=load_matrix(changed),
            console=quiet(),
        )
        == 1
    )
    assert merged(tmp_path / "m2")[0]["matrix_digest"] == matrix_digest(load_matrix(changed))


def test_shards_that_disagree_on_the_count_are_refused(tmp_path: Path) -> None:
    matrix = write_matrix(tmp_path)
    of_two = shard_stores(matrix, tmp_path / "two", count=2)
    of_three = shard_stores(matrix, tmp_path / "three", count=3)
    with pytest.raises(ConfigError, match="disagree on the number of shards"):
        merge_night([of_two[0], of_three[1]], tmp_path / "m", console=quiet())


def test_folders_without_shards_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such folder"):
        merge_night([tmp_path / "nowhere"], tmp_path / "m", console=quiet())
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no nightly shard"):
        merge_night([tmp_path / "empty"], tmp_path / "m", console=quiet())
    bad = tmp_path / "bad" / "nightly-shards" / "n1" / "abc" / "shard-1-of-1.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not a readable chaoskit shard summary"):
        merge_night([tmp_path / "bad"], tmp_path / "m", console=quiet())


def test_merging_again_writes_the_same_night(night: dict[str, Any], tmp_path: Path) -> None:
    store = tmp_path / "merged"
    merge_night(night["shards"], store, console=quiet())
    merge_night(night["shards"], store, console=quiet())
    (summary_path,) = (store / "nightly").glob("*/summary.json")  # one night, not two
    page = (summary_path.parent / "report.html").read_text()
    assert "First night in this store" in page  # not compared with itself
    assert len(run_folders(store)) == 6  # the runs were not copied twice


def test_the_next_night_compares_with_the_merged_one_and_splits_by_its_times(
    night: dict[str, Any], tmp_path: Path
) -> None:
    store = tmp_path / "merged"
    merge_night(night["shards"], store, console=quiet())
    # Night 2: each shard's store starts from the merged nights (CI restores the cache).
    night2 = NIGHT1 + timedelta(days=1)
    shards2 = []
    for index in (1, 2, 3):
        shard_store = tmp_path / f"n2-{index}"
        shutil.copytree(store / "nightly", shard_store / "nightly")
        runner = synthetic_runner(night2, broken=set())  # the bully bug was fixed
        run_shard(night["matrix"], shard_store, runner, Shard(index, 3), "n2", console=quiet())
        shards2.append(shard_store)
    doc = json.loads(next(shards2[0].glob("nightly-shards/n2/*/*.json")).read_text())
    assert doc["plan"]["source"] == "measured on night n1"
    assert merge_night(shards2, store, console=quiet()) == 0
    nights = sorted((store / "nightly").glob("*/report.html"))
    assert len(nights) == 2
    page = nights[-1].read_text()
    assert "Compared with the night of" in page
    assert "bully / partition / none" in page.split('id="fixed">')[1].split("</ul>")[0]
    assert "2 nights, oldest first" in page


def test_wait_until_every_shard_is_done(tmp_path: Path) -> None:
    matrix = write_matrix(tmp_path)
    stores = shard_stores(matrix, tmp_path / "s", count=2)
    late = tmp_path / "late"
    shutil.move(stores[1], late)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        # The second shard's job finishes while the merge waits.
        sleeps.append(seconds)
        if len(sleeps) == 2:
            shutil.move(late, stores[1])

    status = merge_night(stores, tmp_path / "m", wait_s=600, sleep=sleep, console=quiet())
    assert status == 1 and len(sleeps) == 2  # bully fails; nothing missing
    summary, _ = merged(tmp_path / "m")
    assert [s["status"] for s in summary["shards"]] == ["done", "done"]


def test_wait_gives_up_and_names_the_missing_shard(tmp_path: Path) -> None:
    matrix = write_matrix(tmp_path)
    stores = shard_stores(matrix, tmp_path / "s", count=2)
    shutil.rmtree(stores[1])
    status = merge_night(
        stores[:1], tmp_path / "m", wait_s=0.3, sleep=lambda s: None, console=quiet()
    )
    assert status == 1
    summary, _ = merged(tmp_path / "m")
    assert summary["shards"][1]["status"] == "missing"


def test_runs_whose_folders_collide_are_kept_apart(tmp_path: Path) -> None:
    """The synthetic shards name their runs by a per-store counter, so two shards
    write different runs under the same folder name; both must survive the merge."""
    matrix = write_matrix(tmp_path)
    stores = shard_stores(matrix, tmp_path / "s", count=2)
    merge_night(stores, tmp_path / "m", console=quiet())
    summary, _ = merged(tmp_path / "m")
    dirs = [r["run_dir"] for c in summary["cells"] for r in c["runs"]]
    assert len(set(dirs)) == 6
    assert any(d.endswith("-shard-2") for d in dirs)
    for cell in summary["cells"]:
        for run in cell["runs"]:
            config = json.loads((tmp_path / "m" / run["run_dir"] / "config.json").read_text())
            assert config["seed"] == run["seed"]


def run_folders(store: Path) -> list[Path]:
    return sorted(
        p for p in store.glob("*-*/*") if p.is_dir() and p.parent.name != "nightly-shards"
    )


def test_shards_sharing_one_store_merge_in_place(tmp_path: Path) -> None:
    """GitLab extracts every shard's artifacts into one folder, and a Kubernetes night
    shares one volume: the merge reads and writes the same store, copying nothing."""
    matrix = write_matrix(tmp_path)
    store = tmp_path / "runs"
    for index in (1, 2):
        # Real runs are named by their start time: the two shards' do not collide.
        runner = synthetic_runner(NIGHT1 + timedelta(hours=index))
        run_shard(matrix, store, runner, Shard(index, 2), "n1", console=quiet())
    before = run_folders(store)
    assert merge_night([store], store, console=quiet()) == 1
    assert run_folders(store) == before
    summary, _ = merged(store)
    assert [s["status"] for s in summary["shards"]] == ["done", "done"]
    assert sorted(r["run_dir"] for c in summary["cells"] for r in c["runs"]) == [
        p.relative_to(store).as_posix() for p in before
    ]


def test_a_run_folder_outside_the_shard_store_is_not_copied(tmp_path: Path) -> None:
    matrix = write_matrix(tmp_path)
    (store,) = shard_stores(matrix, tmp_path / "s", count=1)
    (path,) = store.glob("nightly-shards/*/*/*.json")
    doc = json.loads(path.read_text())
    doc["runs"][0]["run_dir"] = "../../outside"
    path.write_text(json.dumps(doc))
    merge_night([store], tmp_path / "m", console=quiet())
    summary, _ = merged(tmp_path / "m")
    assert summary["cells"][0]["runs"][0]["run_dir"] is None
    assert any("left out" in w for w in summary["warnings"])
    assert not (tmp_path / "outside").exists()
