"""A SIGKILLed controller of a Docker run: `chaoskit cleanup` removes its containers and
network (found by the ``chaoskit.run`` label) and marks the run abandoned."""

from __future__ import annotations

import signal

import pytest

from chaoskit._runtime_docker import leftovers

from .conftest import Session, open_faults, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.docker]


def test_cleanup_removes_the_containers_of_a_killed_docker_run(session: Session) -> None:
    from chaoskit._errors import SetupError
    from chaoskit._images import NODE_IMAGE, PROXY_IMAGE, docker_client

    try:
        client = docker_client()
    except SetupError as exc:
        pytest.skip(f"{exc}; run .ci/docker-setup.sh to include the Docker tests")
    if not all(client.images.list(name=tag) for tag in (NODE_IMAGE, PROXY_IMAGE)):
        pytest.skip("no chaoskit images: run `chaoskit image build` (CI builds them)")
    proc = session.spawn(
        "run",
        "--runtime",
        "docker",
        "--nodes",
        "3",
        "--nemesis",
        "partition",
        "--time-limit",
        "120",
        "--seed",
        "2",
        "--no-progress",
        "--fault-seconds",
        "60",
        "--heal-seconds",
        "1",
    )
    run_id = ""
    try:

        def partitioned() -> bool:
            assert proc.poll() is None, proc.communicate()
            latest = session.cwd / "runs" / "latest"
            return latest.exists() and bool(open_faults(latest))

        wait_for(partitioned, "a partition in the docker run", timeout=180)
        run_id = session.config()["run_id"]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        left = leftovers(run_id, client=client)
        assert len([x for x in left if x.startswith("container")]) >= 4, left  # nodes, proxy
        assert session.registry() == [run_id]

        res = session.cli("cleanup", "--run-id", run_id, timeout=180)
        assert res.returncode == 0, res.stderr
        assert "removed container" in res.stdout and "abandoned" in res.stdout
        assert leftovers(run_id, client=client) == []
        assert session.registry() == []
        check = session.cli("check", str(session.latest))
        assert check.returncode == 2 and "incomplete" in check.stdout
    finally:
        if run_id:
            from chaoskit._runtime_docker import remove_run

            remove_run(client, run_id)
