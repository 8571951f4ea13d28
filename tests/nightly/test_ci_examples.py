"""The CI examples of examples/ci/ do what docs/reports.md says they do.

Each example is parsed, and the commands it gives each job are run through the real
command line with the variables that engine sets (run_shard and merge_night replaced
by recorders), so a test fails when an example asks for a shard the engine does not
give, splits a night across night ids, or merges fewer shard stores than it uploads.
"""

from __future__ import annotations

import fnmatch
import glob
import shlex
import shutil
import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from chaoskit.cli.main import cli
from chaoskit.nightly.shard import Shard

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "ci"
#: Variables of every engine, cleared so the machine running the tests adds none.
ENGINE_VARIABLES = (
    "CHAOSKIT_SHARD",
    "CHAOSKIT_SHARD_COUNT",
    "CHAOSKIT_NIGHT",
    "CI_NODE_INDEX",
    "CI_NODE_TOTAL",
    "JOB_COMPLETION_INDEX",
    "SLURM_ARRAY_TASK_ID",
    "GITHUB_RUN_ID",
    "CI_PIPELINE_ID",
    "SLURM_ARRAY_JOB_ID",
)


class Recorder:
    """Stands in for the shard runner and the merge: what the command line asked for."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.shards: list[dict[str, Any]] = []
        self.merges: list[dict[str, Any]] = []
        for name in ENGINE_VARIABLES:
            monkeypatch.delenv(name, raising=False)

        def run_shard(matrix: Path, store: Path, run_one: Any, shard: Shard, night: str) -> int:
            self.shards.append({"matrix": matrix, "store": store, "shard": shard, "night": night})
            return 0

        def merge_night(dirs: Any, store: Path, **kw: Any) -> int:
            self.merges.append({"dirs": [Path(d) for d in dirs], "store": store, **kw})
            return 0

        monkeypatch.setattr("chaoskit.nightly.shard_run.run_shard", run_shard)
        monkeypatch.setattr("chaoskit.nightly.merge.merge_night", merge_night)

    def chaoskit(self, command: str, env: dict[str, str], cwd: Path) -> None:
        """Run one shell line of an example: variables expanded, globs too, as sh would."""
        words = shlex.split(string.Template(command).safe_substitute(env))
        assert words[0] == "chaoskit", command
        args = []
        for word in words[1:]:
            matches = sorted(glob.glob(word, root_dir=cwd)) if "*" in word else []
            args += matches or [word]
        result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
        assert result.exit_code == 0, (command, result.output)


def chaoskit_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.strip().startswith("chaoskit ")]


def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A job's working copy: the example matrix where the examples expect it."""
    (tmp_path / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "nightly.toml", tmp_path / "examples" / "nightly.toml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- GitHub Actions ---------------------------------------------------------------------


def github_expr(text: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        text = text.replace("${{ " + name + " }}", value)
    assert "${{" not in text, f"unresolved expression in {text!r}"
    return text


def test_github_actions_shards_and_merges_every_shard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    work = checkout(tmp_path, monkeypatch)
    recorder = Recorder(monkeypatch)
    shard_job, merge_job = flow["jobs"]["shard"], flow["jobs"]["merge"]
    assert shard_job["strategy"]["fail-fast"] is False
    indexes = shard_job["strategy"]["matrix"]["shard"]
    count = len(indexes)
    assert indexes == list(range(1, count + 1)) and count > 1
    run_id = {"github.run_id": "8123456789"}
    uploads = []
    for index in indexes:
        values = {**run_id, "matrix.shard": str(index), "strategy.job-total": str(count)}
        env = {
            k: github_expr(str(v), values) for k, v in {**flow["env"], **shard_job["env"]}.items()
        }
        steps = shard_job["steps"]
        (command,) = chaoskit_lines([s["run"] for s in steps if "run" in s])
        assert "--shard auto" in command
        recorder.chaoskit(command, env, work)
        (upload,) = [
            s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")
        ]
        assert upload["if"] == "always()"  # a shard that broke still hands in what it did
        uploads.append({k: github_expr(str(v), values) for k, v in upload["with"].items()})
    assert [s["shard"] for s in recorder.shards] == [Shard(i, count) for i in indexes]
    assert {s["night"] for s in recorder.shards} == {"8123456789"}
    store = recorder.shards[0]["store"]
    for upload in uploads:
        paths = upload["path"].split()
        assert paths == [str(store), f"!{store}/nightly"]  # the store, not the old nights
    # The merge job: after every shard, whatever they did, with every shard's artifact.
    assert merge_job["needs"] == "shard" and merge_job["if"] == "always()"
    (download,) = [s for s in merge_job["steps"] if "download-artifact" in str(s.get("uses"))]
    into = Path(download["with"]["path"])
    for upload in uploads:
        assert fnmatch.fnmatch(upload["name"], download["with"]["pattern"])
        (work / into / upload["name"]).mkdir(parents=True)  # download-artifact: one folder each
    (command,) = chaoskit_lines([s["run"] for s in merge_job["steps"] if "run" in s])
    env = {k: github_expr(str(v), run_id) for k, v in flow["env"].items()}
    recorder.chaoskit(command, env, work)
    (merge,) = recorder.merges
    assert merge["dirs"] == [into / u["name"] for u in uploads]
    assert merge["night"] == "8123456789"
    caches = [
        s["with"]
        for j in (shard_job, merge_job)
        for s in j["steps"]
        if "cache" in str(s.get("uses"))
    ]
    assert {c["path"] for c in caches} == {f"{merge['store']}/nightly"}  # the nights carried over


# -- GitLab CI -------------------------------------------------------------------------


def gitlab_env(
    pipeline: dict[str, Any], job: dict[str, Any], engine: dict[str, str]
) -> dict[str, str]:
    variables = {**pipeline.get("variables", {}), **job.get("variables", {})}
    return {
        **engine,
        **{k: string.Template(str(v)).safe_substitute(engine) for k, v in variables.items()},
    }


def test_gitlab_parallel_shards_and_a_merge_of_all_their_artifacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())
    work = checkout(tmp_path, monkeypatch)
    recorder = Recorder(monkeypatch)
    jobs = {
        name: job for name, job in pipeline.items() if isinstance(job, dict) and "script" in job
    }
    (shard_name,) = [n for n, j in jobs.items() if "parallel" in j]
    shard_job = jobs[shard_name]
    count = int(shard_job["parallel"])
    assert count > 1
    for index in range(1, count + 1):
        engine = {
            "CI_NODE_INDEX": str(index),
            "CI_NODE_TOTAL": str(count),
            "CI_PIPELINE_ID": "4242",
        }
        (command,) = chaoskit_lines(shard_job["script"])
        assert "--shard auto" in command
        recorder.chaoskit(command, gitlab_env(pipeline, shard_job, engine), work)
    assert [s["shard"] for s in recorder.shards] == [Shard(i, count) for i in range(1, count + 1)]
    assert {s["night"] for s in recorder.shards} == {"4242"}
    store = recorder.shards[0]["store"]
    artifacts = shard_job["artifacts"]
    assert artifacts["when"] == "always" and f"{store}/" in artifacts["paths"]
    # The merge: a later stage, every shard's artifacts, even after a failed shard.
    (merge_name,) = [n for n, j in jobs.items() if any("merge" in line for line in j["script"])]
    merge_job = jobs[merge_name]
    stages = pipeline["stages"]
    assert stages.index(merge_job["stage"]) > stages.index(shard_job["stage"])
    assert shard_name in merge_job["dependencies"]
    assert [r.get("when") for r in merge_job["rules"]] == ["always"]
    (command,) = chaoskit_lines(merge_job["script"])
    recorder.chaoskit(command, gitlab_env(pipeline, merge_job, {"CI_PIPELINE_ID": "4242"}), work)
    (merge,) = recorder.merges
    assert merge["dirs"] == [store]  # where every shard's artifacts are extracted
    assert merge["night"] == "4242"
    assert merge_job["cache"]["paths"] == [f"{merge['store']}/nightly/"]


# -- Kubernetes ------------------------------------------------------------------------


def container_env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}


def test_kubernetes_indexed_job_and_its_merge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (EXAMPLES / "k8s-indexed-job.yaml").read_text()
    assert "${NIGHT}" in text
    docs = list(yaml.safe_load_all(text.replace("${NIGHT}", "20260301")))
    work = checkout(tmp_path, monkeypatch)
    recorder = Recorder(monkeypatch)
    jobs = [d for d in docs if d["kind"] == "Job"]
    (indexed,) = [j for j in jobs if j["spec"].get("completionMode") == "Indexed"]
    (merge_job,) = [j for j in jobs if j is not indexed]
    spec = indexed["spec"]
    count = int(spec["completions"])
    pod = spec["template"]["spec"]
    (shard,) = pod["containers"]
    env = container_env(shard)
    assert env["CHAOSKIT_SHARD_COUNT"] == str(count)
    argv = list(shard["command"])
    assert argv[:2] == ["chaoskit", "nightly"] and "--shard" in argv
    assert argv[argv.index("--shard") + 1] == "auto"
    # The matrix comes from the ConfigMap mount; the test's checkout stands in for it.
    matrix = Path(argv[2])
    mounts = {m["name"]: m["mountPath"] for m in shard["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert any(matrix.parent == Path(mounts[n]) and "configMap" in volumes[n] for n in mounts)
    argv[2] = "examples/nightly.toml"
    for index in range(count):
        recorder.chaoskit(shlex.join(argv), {**env, "JOB_COMPLETION_INDEX": str(index)}, work)
    assert [s["shard"] for s in recorder.shards] == [Shard(i, count) for i in range(1, count + 1)]
    assert {s["night"] for s in recorder.shards} == {"20260301"}
    store = recorder.shards[0]["store"]
    # The merge Job waits on the same volume for every shard, for the same night.
    (merger,) = merge_job["spec"]["template"]["spec"]["containers"]
    assert merger["command"][:3] == ["chaoskit", "nightly", "merge"]
    recorder.chaoskit(shlex.join(merger["command"]), container_env(merger), work)
    (merge,) = recorder.merges
    assert merge["dirs"] == [store] and merge["store"] == store
    assert merge["night"] == "20260301" and merge["wait_s"] > 0
    claim = {
        v["persistentVolumeClaim"]["claimName"]
        for v in pod["volumes"]
        if "persistentVolumeClaim" in v
    }
    merge_claims = {
        v["persistentVolumeClaim"]["claimName"]
        for v in merge_job["spec"]["template"]["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claim == merge_claims
    (pvc,) = [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    assert pvc["metadata"]["name"] in claim and "ReadWriteMany" in pvc["spec"]["accessModes"]
    assert indexed["metadata"]["name"] != merge_job["metadata"]["name"]
