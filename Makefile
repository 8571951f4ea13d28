# The two commands of the README: `make run` and `make test`.
.PHONY: setup run test unit integration docker lint bench

setup:
	@bash scripts/setup.sh

## Set up, then run the main job: a 5-node Raft cluster under partitions.
run: setup
	.venv/bin/chaoskit run --nemesis partition

## Set up, then pass the whole test suite (unit, real-process, Docker when available).
test: setup unit integration

## Pure, fast tests (under a minute): no processes, no sockets, no long simulations.
unit:
	.venv/bin/pytest -m "not integration and not docker and not slow" -n 2 -q

## Real processes and sockets, Docker, long simulations and renderings.
integration:
	.venv/bin/pytest -m "integration or docker or slow" -n 2 --dist loadfile -q

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

bench:
	.venv/bin/python benchmarks/run_all.py
