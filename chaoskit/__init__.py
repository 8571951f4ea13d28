"""chaoskit: chaos testing for leader-elected services.

Launch a cluster, inject faults (kills, pauses, partitions, latency, clock skew),
record what every node and client saw, and check it for split brain, stalled
elections, non-linearizable histories and lost writes::

    from chaoskit import RunConfig, run

    result = run(RunConfig(target="raft", time_limit=20, seed=7))
    assert result.valid is True, result.run_dir

    # the settings by the names of the command line (a scenario's [run] applies):
    result = run(run_config(scenario="stale_leader.toml", seed=7))

The implementation lives in private modules; this package re-exports the public API.
"""

from chaoskit.core.checker import Checker, CheckResult, RunData, merge_verdicts
from chaoskit.core.client import Client, OpFailed
from chaoskit.core.clock import Clock
from chaoskit.core.nemesis import Fault, Nemesis, NemesisContext
from chaoskit.core.network import Network
from chaoskit.core.runtime import Runtime
from chaoskit.core.target import Launch, NodeInfo, Outcome, Port, Status, Target, TargetBase
from chaoskit.core.workload import Workload
from chaoskit.errors import (
    ChaoskitError,
    ConfigError,
    HistoryFormatError,
    ProxyError,
    SetupError,
)
from chaoskit.run.api import check_run, run, run_config
from chaoskit.run.config import NemesisSpec, RunConfig

__version__ = "0.1.0"

__all__ = [
    "ChaoskitError",
    "CheckResult",
    "Checker",
    "Client",
    "Clock",
    "ConfigError",
    "Fault",
    "HistoryFormatError",
    "Launch",
    "Nemesis",
    "NemesisContext",
    "NemesisSpec",
    "Network",
    "NodeInfo",
    "OpFailed",
    "Outcome",
    "Port",
    "ProxyError",
    "RunConfig",
    "RunData",
    "Runtime",
    "SetupError",
    "Status",
    "Target",
    "TargetBase",
    "Workload",
    "__version__",
    "check_run",
    "merge_verdicts",
    "run",
    "run_config",
]
