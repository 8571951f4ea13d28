"""Resolve a RunConfig into the plug-ins of one run, failing before anything starts.

Everything a user can get wrong (unknown names, options a target does not take, a
workload the target cannot serve) is found here and reported as one ``ConfigError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chaoskit.checkers.checking import LEADER_CHECKERS
from chaoskit.core import plugins
from chaoskit.core.checker import Checker
from chaoskit.core.nemesis import Nemesis
from chaoskit.core.target import Policy, Target, check_ports
from chaoskit.core.workload import Workload
from chaoskit.errors import ConfigError
from chaoskit.remote.inventory import Inventory, run_inventory
from chaoskit.run.config import NemesisSpec, RunConfig, check_compose_clock, check_fault_count
from chaoskit.run.schedule import default_intervals
from chaoskit.scenario.files import load_scenario
from chaoskit.scenario.model import Scenario
from chaoskit.scenario.targets import check_nodes

RUNTIMES = ("local", "docker", "compose", "ssh")


@dataclass
class RunPlan:
    """The resolved parts of a run."""

    config: RunConfig
    target: Target
    nemeses: dict[str, Nemesis]
    workload: Workload
    checkers: dict[str, Checker]
    policy: Policy
    election_deadline: float
    concurrency: int
    #: Clients pinned to one node each, on top of ``concurrency`` leader-following ones.
    bound_clients: int = 0
    #: ``--runtime ssh``: the hosts, read and checked before anything starts.
    hosts: Inventory | None = None
    #: The scenario file's steps (``--scenario``); None: the random schedule of the seed.
    scenario: Scenario | None = None


def load_target(name: str | Target) -> Target:
    """A built-in or plug-in target by name, a target spec file by path, or a Target."""
    if not isinstance(name, str):
        plugins.require(
            name, Target, f"target object {name!r}", hint=" (subclass chaoskit.TargetBase)"
        )
        return name
    if name.endswith(".toml"):
        from chaoskit.spec.loader import load_spec_target

        return load_spec_target(Path(name))
    target: Target = plugins.load("targets", name)
    return target


def build_nemesis(spec: NemesisSpec) -> Nemesis:
    """The configured nemesis of one ``NAME[:options]`` spec."""
    if spec.together:
        raise ConfigError(f"'{spec}' is several nemeses: build each part")
    nemesis: Nemesis = plugins.load("nemeses", spec.name)
    nemesis.configure(spec.options)
    return nemesis


def build_nemeses(spec: NemesisSpec) -> dict[str, Nemesis]:
    """The configured nemeses of ``spec`` by key: the parts of ``a&b``, else itself."""
    return {str(part): build_nemesis(part) for part in spec.together or [spec]}


def scenario_nemeses(scenario: Scenario, where: str, nodes: int) -> dict[str, Nemesis]:
    """Every nemesis a scenario's steps use, checked before the run starts: a mistake
    names the file and the step."""
    ids = [f"n{i + 1}" for i in range(nodes)]
    built: dict[str, Nemesis] = {}
    for number, step in enumerate(scenario.steps, 1):
        try:
            if step.targets is not None:
                check_nodes(step.targets, ids)
            if not step.is_wait and step.key not in built:
                built[step.key] = build_nemesis(NemesisSpec.parse(step.key))
        except ConfigError as exc:
            raise ConfigError(f"{where}: step {number}: {exc}") from None
    return built


def plan_run(config: RunConfig) -> RunPlan:
    """Validate ``config`` and load every plug-in it names."""
    config.validate()
    if config.runtime not in RUNTIMES:
        raise ConfigError(f"unknown runtime '{config.runtime}' (known: {', '.join(RUNTIMES)})")
    target = load_target(config.target)
    target.configure(config.options)
    check_ports(target)
    if config.nemeses and target.settle_s >= config.time_limit:
        raise ConfigError(
            f"--time-limit {config.time_limit:g} leaves no time for faults: target "
            f"'{target.name}' settles for {target.settle_s:g} s first (settle_s)"
        )
    scenario = None
    if config.scenario is not None:
        scenario = load_scenario(config.scenario)
        nemeses = scenario_nemeses(scenario, str(config.scenario), config.nodes)
    else:
        nemeses = {k: n for spec in config.nemeses for k, n in build_nemeses(spec).items()}
    for nemesis in nemeses.values():
        nemesis.check_cluster(config.nodes)  # count=9 on 5 nodes is refused before the run
    if config.runtime == "compose":
        check_compose_clock(n.name for n in nemeses.values())
    workload_name = config.workload or ("register" if "register" in target.workloads else "none")
    workload: Workload = plugins.load("workloads", workload_name)
    if workload_name != "none" and workload_name not in target.workloads:
        raise ConfigError(
            f"target '{target.name}' does not support the '{workload_name}' workload "
            f"(it supports: {', '.join(target.workloads)})"
        )
    names = list(config.checkers) if config.checkers else [*LEADER_CHECKERS, *workload.checkers]
    checkers = {name: plugins.load("checkers", name) for name in dict.fromkeys(names)}
    concurrency = config.concurrency if config.concurrency is not None else config.nodes
    bound_clients = config.bound_clients
    if workload_name == "none":
        concurrency = bound_clients = 0
    elif concurrency + bound_clients == 0:
        raise ConfigError(
            f"the '{workload_name}' workload has no client with --concurrency 0 and no "
            "--bound-clients: give at least one, or --workload none for a run without clients"
        )
    config.workload = workload_name
    # The schedule's intervals are part of the experiment: fixed here, so config.json and
    # the repeat command hold them even when they came from the target's defaults (its
    # own lengths, else sized to its election timeout).
    fault_s, heal_s = default_intervals(target.election_timeout)
    config.fault_s = config.fault_s or target.fault_s or fault_s
    config.heal_s = config.heal_s or target.heal_s or heal_s
    if config.nemeses:
        check_fault_count(config.time_limit, config.fault_s, config.heal_s)
    return RunPlan(
        config=config,
        target=target,
        nemeses=nemeses,
        workload=workload,
        checkers=checkers,
        policy=config.policy or target.default_policy,
        election_deadline=config.election_deadline or target.election_deadline,
        concurrency=concurrency,
        bound_clients=bound_clients,
        hosts=_hosts(config, target),
        scenario=scenario,
    )


def _hosts(config: RunConfig, target: Target) -> Inventory | None:
    """``--runtime ssh``: the inventory, checked (key files included) before a run starts.
    Peers dial one port per host directly, so targets with more peer ports cannot run."""
    if config.runtime != "ssh":
        return None
    if len(target.ports) != 1 or target.proxy_mode != "pair":
        raise ConfigError(f"target '{target.name}' does not run in the ssh runtime yet")
    return run_inventory(config.inventory, config.target)
