"""The package map of docs/architecture.md holds: layers, no import cycle, short modules.

Every import counts, wherever it is written (top of the module, inside a function, or
under ``TYPE_CHECKING``): a layer that reaches up, even lazily, is a tangle a reader
has to keep in mind.
"""

from __future__ import annotations

import ast
import os
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "chaoskit"
CATALOGUE = ("targets", "nemeses", "workloads")
MAX_LINES = 420

#: What each part may import besides itself (docs/architecture.md, "The package map").
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "core": {"errors"},
    "store": {"errors", "core"},
    "proxy": {"errors", "core"},
    "clock": {"errors", "core"},
    "network": {"errors", "core", "proxy"},
    "clients": {"errors", "core", "store"},
    "observe": {"errors", "core", "store", "clients"},
    "checkers": {"errors", "core", "store"},
    "spec": {"errors", "core", "store", "clients"},
    "runtimes": {"errors", "core", "store", "proxy", "network", "clock"},
    "report": {"errors", "core", "store", "checkers", "proxy"},
    "catalogue": {"errors", "core", "store", "clients", "runtimes"},
    "disk": {"errors", "core", "store", "runtimes"},
    "remote": {"errors", "core", "store", "proxy", "network", "clock", "runtimes"},
    "scenario": {"errors", "core", "store"},
}
LOWER = set(ALLOWED)
ALLOWED["run"] = LOWER
ALLOWED["nightly"] = ALLOWED["run"] | {"run"}
for top in ("cli", "pytest_plugin", "api", "main"):
    ALLOWED[top] = ALLOWED["nightly"] | {"nightly", "cli", "pytest_plugin", "api"}


def modules() -> dict[str, Path]:
    """Every module of the installed package, by dotted name (catalogue included)."""
    found = {}
    files = [Path(d) / f for d, _, fs in os.walk(PACKAGE, followlinks=True) for f in fs]
    for path in sorted(f for f in files if f.suffix == ".py"):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = ["chaoskit", *rel.parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def part_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "api"
    if parts[1] in CATALOGUE:
        return "catalogue"
    return {"__main__": "main"}.get(parts[1], parts[1])


def imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The chaoskit modules ``module`` imports, anywhere in its file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from chaoskit.core import plugins`` imports the module chaoskit.core.plugins
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        out.update(n for n in names if n == "chaoskit" or n.startswith("chaoskit."))
    # The bare package (``import chaoskit`` for its folder) is every module's parent.
    out.discard("chaoskit")
    out.discard(module)
    return {n if n in known else n.rpartition(".")[0] for n in out} & known


GRAPH = {name: imports(name, path, set(modules())) for name, path in modules().items()}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_a_module_imports_only_lower_layers(module: str) -> None:
    part = part_of(module)
    wrong = sorted(
        dep for dep in GRAPH[module] if part_of(dep) != part and part_of(dep) not in ALLOWED[part]
    )
    assert not wrong, f"{module} ({part}) imports {wrong}: see docs/architecture.md"


def test_no_import_cycle() -> None:
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the path, 2 done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for dep in sorted(GRAPH[node]):
            if state[dep] == 1:
                cycle = [*path[path.index(dep) :], dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if state[dep] == 0:
                visit(dep)
        path.pop()
        state[node] = 2

    for node in sorted(GRAPH):
        if state[node] == 0:
            visit(node)


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if part_of(m) != "catalogue"))
def test_no_engine_module_is_long(module: str) -> None:
    """Engine modules stay short; a protocol's pure state machine in the catalogue
    (the reference Raft core) may be longer, since it is read as one algorithm."""
    lines = len(modules()[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines: split it by job (at most {MAX_LINES})"


def test_the_map_names_every_subpackage() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for sub in sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()):
        if sub not in CATALOGUE:
            assert f"`{sub}/" in text, f"docs/architecture.md does not place chaoskit/{sub}/"
        doc = ast.get_docstring(ast.parse((PACKAGE / sub / "__init__.py").read_text()))
        assert doc, f"chaoskit/{sub}/__init__.py needs a docstring: what it owns, what it imports"


def test_no_code_imports_the_catalogue_by_its_folder_name() -> None:
    """The catalogue is ``chaoskit.targets``; a top-level ``targets`` import would only
    work from a checkout."""
    offenders = []
    for path in [*modules().values(), *ROOT.glob("tests/**/*.py"), *ROOT.glob("benchmarks/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )  # fmt: skip
            if any(n.split(".")[0] in CATALOGUE for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, f"import chaoskit.targets/... instead: {offenders}"
