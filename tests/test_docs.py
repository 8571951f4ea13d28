"""The documentation stays true to the project it describes.

README.md is the front door and docs/ holds the reference; both drift silently when
the code moves on (a dependency added to pyproject.toml, an option renamed, a page
moved). These checks read the files and walk the click command group, nothing more,
so they are pure and fast, and each failure names the file, the line and what is
missing:

- every dependency in pyproject.toml (runtime and the ``test`` extra) has a row in the
  README's table of Python packages, and every row is a dependency; the same for the
  system packages of scripts/setup.sh;
- every ``chaoskit <command> [<subcommand>]`` written in README.md or docs/*.md is a
  real command, and every option written after it is one of that command's;
- every relative link points to a file of the repository that exists, and every
  ``#anchor`` to a heading of the page it names;
- docs/cli.md documents every command and every option, and the catalogue pages name
  every registered plug-in;
- nothing points at design notes outside the repository.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from chaoskit.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CLI_PAGE = ROOT / "docs" / "cli.md"
DOC_FILES = [README, *sorted((ROOT / "docs").glob("*.md"))]
#: Pages the docs link to before they are written (another change writes them). Their
#: links are allowed to dangle until then; once a page exists its entry must go.
PLANNED: set[str] = set()
#: The README is the front door, not the reference (issue 24: about 200 lines at most).
README_MAX_LINES = 200
#: Registered plug-in groups, and the page that must name every plug-in of each.
CATALOGUE_PAGES = {
    "chaoskit.targets": "docs/targets.md",
    "chaoskit.nemeses": "docs/nemeses.md",
    "chaoskit.workloads": "docs/workloads-and-checkers.md",
    "chaoskit.checkers": "docs/workloads-and-checkers.md",
}
#: Fenced code in these languages is not shell: ``from chaoskit import run`` is no command.
NOT_SHELL = {"python", "py", "pycon"}
#: Options every command has: the help option, as the group's settings name it.
HELP_OPTIONS = set(cli.context_settings.get("help_option_names", ["--help"]))
#: Where pointers to project files live: code, tests, examples and the docs themselves.
SOURCE_DIRS = (
    "chaoskit",
    "targets",
    "nemeses",
    "workloads",
    "tests",
    "benchmarks",
    "examples",
    "scripts",
    "docker",
)
SOURCE_SUFFIXES = {".py", ".md", ".toml", ".sh", ".yml", ".yaml", ".cfg", ".txt"}
#: Design notes that lived outside the repository (issue 24): nothing may point there.
OUTSIDE_NOTES = re.compile(r"\b(?:ARCHITECTURE|STYLE)\.md\b|\bnotes/[\w-]+\.md\b")
DOC_POINTER = re.compile(r"(?<![\w/.-])docs/[\w-]+\.md\b")


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# -- reading markdown ------------------------------------------------------------------


@dataclass(frozen=True)
class Code:
    """A piece of code in a page: a fenced line (continuations joined) or an inline span."""

    line: int
    text: str


def split_fences(text: str) -> tuple[list[str], list[tuple[int, str, str]]]:
    """The page's lines with fenced code blanked out, and the fenced lines as
    ``(line number, language, text)`` with backslash continuations joined."""
    prose: list[str] = []
    fenced: list[tuple[int, str, str]] = []
    fence: str | None = None
    lang = ""
    pending: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if fence is None and stripped.startswith(("```", "~~~")):
            fence, lang = stripped[:3], stripped[3:].strip().lower()
            prose.append("")
            continue
        if fence is not None and stripped.startswith(fence):
            fence = None
            prose.append("")
            continue
        if fence is None:
            prose.append(line)
            continue
        prose.append("")
        start, joined = pending if pending else (number, "")
        joined += line
        if joined.endswith("\\"):
            pending = (start, joined[:-1] + " ")
            continue
        pending = None
        fenced.append((start, lang, joined))
    return prose, fenced


INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)


def inline_spans(prose: list[str]) -> Iterator[Code]:
    """Inline code spans of the prose (they may run over a line break)."""
    text = "\n".join(prose)
    for match in INLINE_CODE.finditer(text):
        yield Code(text.count("\n", 0, match.start()) + 1, " ".join(match.group(2).split()))


def code_of(path: Path) -> Iterator[Code]:
    """Every piece of shell-like code in a page: fenced lines and inline spans."""
    prose, fenced = split_fences(path.read_text(encoding="utf-8"))
    for number, lang, line in fenced:
        if lang not in NOT_SHELL:
            yield Code(number, line)
    yield from inline_spans(prose)


def without_inline_code(line: str) -> str:
    return INLINE_CODE.sub("", line)


HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def headings(path: Path) -> list[tuple[int, int, str]]:
    """``(line number, level, text)`` of every heading outside fenced code."""
    prose, _ = split_fences(path.read_text(encoding="utf-8"))
    out = []
    for number, line in enumerate(prose, start=1):
        match = HEADING.match(line)
        if match:
            out.append((number, len(match.group(1)), match.group(2)))
    return out


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, _, text in headings(path):
        base = slug(text)
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def section(path: Path, title: str) -> list[str]:
    """The lines under the first heading whose text is ``title`` (without backticks),
    up to the next heading of the same or a higher level."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = headings(path)
    for i, (number, level, text) in enumerate(found):
        if text.replace("`", "").strip() == title:
            end = next((n for n, lv, _ in found[i + 1 :] if lv <= level), len(lines) + 1)
            return lines[number : end - 1]
    return []


def table_rows(lines: list[str]) -> list[list[str]]:
    """The body rows of the first markdown table in ``lines``, as stripped cells."""
    rows: list[list[str]] = []
    started = False
    for line in lines:
        if line.lstrip().startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if started or rows:
                rows.append(cells)
            started = True
        elif started:
            break
    return [r for r in rows if not all(set(c) <= set("-: ") for c in r)]


# -- (a) dependencies --------------------------------------------------------------------


def normalise(name: str) -> str:
    """PEP 503: ``Pytest_Asyncio`` and ``pytest-asyncio`` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    assert match, f"pyproject.toml: cannot read a package name in {spec!r}"
    return normalise(match.group(1))


def pyproject_dependencies() -> dict[str, str]:
    """Normalised name -> where pyproject.toml lists it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    out = {requirement_name(s): "[project].dependencies" for s in project["dependencies"]}
    for extra, specs in project["optional-dependencies"].items():
        for spec in specs:
            out[requirement_name(spec)] = f"the `{extra}` extra"
    return out


def package_names(rows: list[list[str]]) -> list[str]:
    """The package cells of a table, one or several names per row, backticks dropped."""
    names = []
    for row in rows:
        for cell in row[0].split(","):
            name = cell.strip().strip("`").strip()
            if name:
                names.append(name)
    return names


def setup_packages() -> list[str]:
    text = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    match = re.search(r"^PACKAGES=\(([^)]*)\)", text, re.MULTILINE)
    assert match, "scripts/setup.sh: no PACKAGES=(...) list"
    return match.group(1).split()


def test_readme_lists_every_python_dependency_and_no_other() -> None:
    rows = table_rows(section(README, "Python packages"))
    assert rows, "README.md: no table under a '### Python packages' heading"
    listed = {normalise(n) for n in package_names(rows)}
    wanted = pyproject_dependencies()
    missing = [
        f"{name} (in {where})" for name, where in sorted(wanted.items()) if name not in listed
    ]
    stale = sorted(listed - set(wanted))
    assert not missing, "README.md, table 'Python packages': add a row for " + "; ".join(missing)
    assert not stale, (
        "README.md, table 'Python packages': no such dependency in pyproject.toml "
        f"([project].dependencies or an extra): {', '.join(stale)}"
    )


def test_readme_lists_every_system_package_and_no_other() -> None:
    rows = table_rows(section(README, "System packages"))
    assert rows, "README.md: no table under a '### System packages' heading"
    listed = set(package_names(rows))
    wanted = set(setup_packages())
    assert not wanted - listed, (
        "README.md, table 'System packages': add a row for "
        f"{', '.join(sorted(wanted - listed))} (in scripts/setup.sh PACKAGES)"
    )
    assert not listed - wanted, (
        "README.md, table 'System packages': not in scripts/setup.sh PACKAGES: "
        f"{', '.join(sorted(listed - wanted))}"
    )


# -- (b) commands and options ------------------------------------------------------------

#: ``chaoskit`` as a command word: at the start of a span, after a space, or after bin/.
INVOCATION = re.compile(r"(?:(?<=/bin/)|(?<![\w./-]))chaoskit[ \t]+(?P<rest>[^\n]*)")
COMMAND_WORD = re.compile(r"^[a-z][a-z0-9-]*$")
OPTION = re.compile(r"^\[?(-{1,2}[A-Za-z][\w-]*)")
PUNCTUATION = set("();<>|&")


def words(rest: str) -> list[str]:
    """Shell words up to the end of the command (``&&``, ``|``, ``;``, a comment)."""
    lexer = shlex.shlex(rest, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # an unbalanced quote in prose: plain words will do
        tokens = rest.split()
    out = []
    for token in tokens:
        if token and set(token) <= PUNCTUATION:
            break
        out.append(token)
    return out


def option_names(command: click.Command) -> set[str]:
    names = set(HELP_OPTIONS)
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names


@dataclass(frozen=True)
class Problem:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def check_invocation(where: str, rest: str) -> list[Problem]:
    """Resolve ``chaoskit <rest>`` against the click group; what does not exist."""
    tokens = words(rest)
    command: click.Command = cli
    path = ["chaoskit"]
    i = 0
    while isinstance(command, click.Group) and i < len(tokens):
        token = tokens[i]
        if OPTION.match(token):
            break
        if not COMMAND_WORD.match(token):
            return []  # a placeholder (COMMAND, <cmd>, ...): nothing to check
        sub = command.commands.get(token)
        if sub is None:
            known = ", ".join(sorted(command.commands))
            name = " ".join([*path, token])
            return [
                Problem(
                    where, f"`{name}` is not a command (known under `{' '.join(path)}`: {known})"
                )
            ]
        command, path, i = sub, [*path, token], i + 1
    known = option_names(command)
    problems = []
    for token in tokens[i:]:
        match = OPTION.match(token)
        if match and match.group(1).split("=")[0] not in known:
            option = match.group(1).split("=")[0]
            problems.append(Problem(where, f"`{' '.join(path)}` has no option {option}"))
    return problems


def test_every_command_and_option_written_in_the_docs_exists() -> None:
    problems: list[Problem] = []
    checked = 0
    for page in DOC_FILES:
        for code in code_of(page):
            for match in INVOCATION.finditer(code.text):
                checked += 1
                problems += check_invocation(f"{rel(page)}:{code.line}", match.group("rest"))
    assert checked > 20, f"only {checked} chaoskit commands found in the docs: is the scan broken?"
    assert not problems, "\n".join(map(str, problems))


@pytest.mark.parametrize(
    ("rest", "complaint"),
    [
        ("run --target raft --seed 7", None),
        ("run --nemesis 'a&b' --bound-clients 5  # a comment --nonsense", None),
        ("run --no-such-option 3", "`chaoskit run` has no option --no-such-option"),
        ("image build --base-image x", None),
        ("image burn", "`chaoskit image burn` is not a command"),
        ("replicate runs/latest", "`chaoskit replicate` is not a command"),
        ("COMMAND [OPTIONS]", None),
        ("--version", None),
        ("check runs/latest && chaoskit frobnicate", None),
    ],
)
def test_the_command_check_itself(rest: str, complaint: str | None) -> None:
    """The scan must fail on what does not exist, or the test above proves nothing."""
    problems = check_invocation("x.md:1", rest)
    if complaint is None:
        assert not problems, problems
    else:
        assert problems and complaint in str(problems[0]), problems


def test_invocations_are_found_in_code_only() -> None:
    text = "\n".join(
        [
            "prose chaoskit run --nonsense is not code",
            "`chaoskit run --inline` and `.venv/bin/chaoskit list`",
            "```python",
            "from chaoskit import run",
            "```",
            "```bash",
            "chaoskit run --seed 1 \\",
            "    --fenced",
            "```",
        ]
    )
    prose, fenced = split_fences(text)
    codes = [Code(n, line) for n, lang, line in fenced if lang not in NOT_SHELL]
    codes += list(inline_spans(prose))
    found = [(c.line, m.group("rest")) for c in codes for m in INVOCATION.finditer(c.text)]
    assert sorted(found) == [(2, "list"), (2, "run --inline"), (7, "run --seed 1      --fenced")]


# -- (c) links ---------------------------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def links_of(path: Path) -> Iterator[tuple[int, str]]:
    prose, _ = split_fences(path.read_text(encoding="utf-8"))
    for number, line in enumerate(prose, start=1):
        line = without_inline_code(line)
        for match in LINK.finditer(line):
            yield number, match.group(1)
        ref = REFERENCE.match(line)
        if ref:
            yield number, ref.group(1)


def check_link(page: Path, number: int, target: str) -> list[Problem]:
    where = f"{rel(page)}:{number}"
    if SCHEME.match(target):
        return []
    file_part, _, fragment = target.partition("#")
    dest = (page.parent / file_part).resolve() if file_part else page
    try:
        name = rel(dest)
    except ValueError:
        return [Problem(where, f"link {target} leaves the repository")]
    if name in PLANNED and not dest.exists():
        return []
    if not dest.exists():
        return [Problem(where, f"link {target}: no file {name}")]
    if fragment and dest.suffix == ".md" and fragment not in anchors(dest):
        return [Problem(where, f"link {target}: no heading #{fragment} in {name}")]
    return []


def test_every_relative_link_points_to_a_file_that_exists() -> None:
    problems: list[Problem] = []
    count = 0
    for page in DOC_FILES:
        for number, target in links_of(page):
            count += 1
            problems += check_link(page, number, target)
    assert count > 30, f"only {count} links found in the docs: is the scan broken?"
    assert not problems, "\n".join(map(str, problems))


def test_the_link_check_itself() -> None:
    page = ROOT / "docs" / "cli.md"
    assert check_link(page, 1, "targets.md#planted-bugs") == []
    assert check_link(page, 1, "https://example.org/x") == []
    assert "no file docs/nowhere.md" in str(check_link(page, 1, "nowhere.md")[0])
    assert "no heading #nope" in str(check_link(page, 1, "targets.md#nope")[0])
    assert "leaves the repository" in str(check_link(page, 1, "../../shared/x.md")[0])
    assert slug("`[docker]`: the image for `--runtime docker`") == (
        "docker-the-image-for---runtime-docker"
    )


def test_planned_pages_are_not_written_yet() -> None:
    """A planned page that exists must leave PLANNED, so its links are checked again."""
    written = sorted(p for p in PLANNED if (ROOT / p).exists())
    assert not written, (
        f"{', '.join(written)} exists now: remove it from PLANNED in tests/test_docs.py"
    )


# -- (d) docs/cli.md is complete, the catalogue pages name every plug-in ----------------


def commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
    for name, command in sorted(group.commands.items()):
        full = (*path, name)
        yield " ".join(full), command
        if isinstance(command, click.Group):
            yield from commands(command, full)


def test_cli_page_documents_every_command_and_option() -> None:
    missing: list[str] = []
    for name, command in commands(cli):
        lines = section(CLI_PAGE, f"chaoskit {name}")
        if isinstance(command, click.Group) and not lines:
            continue  # a group is documented through its subcommands' sections
        if not lines:
            missing.append(f"no section '## `chaoskit {name}`'")
            continue
        body = "\n".join(lines)
        for option in sorted(option_names(command) - HELP_OPTIONS):
            if option.startswith("--") and not re.search(re.escape(option) + r"(?![\w-])", body):
                missing.append(f"`chaoskit {name} {option}` is not in its section")
    for option in sorted(option_names(cli) - HELP_OPTIONS):
        if option not in CLI_PAGE.read_text(encoding="utf-8"):
            missing.append(f"`chaoskit {option}` is not mentioned")
    assert not missing, "docs/cli.md: " + "; ".join(missing)


def entry_points() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    groups = project["entry-points"]
    return {group: sorted(groups.get(group, {})) for group in CATALOGUE_PAGES}


def test_catalogue_pages_name_every_registered_plugin() -> None:
    missing = []
    for group, names in entry_points().items():
        page = ROOT / CATALOGUE_PAGES[group]
        text = page.read_text(encoding="utf-8")
        missing += [
            f"{CATALOGUE_PAGES[group]}: `{n}` ({group})" for n in names if f"`{n}`" not in text
        ]
    assert not missing, "plug-ins registered in pyproject.toml but not documented: " + "; ".join(
        missing
    )


def test_readme_is_the_front_door_not_the_reference() -> None:
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines (at most {README_MAX_LINES}): move reference to docs/"
    )


# -- (e) pointers -----------------------------------------------------------------------


def source_files() -> Iterator[Path]:
    yield from DOC_FILES
    for top in SOURCE_DIRS:
        for path in sorted((ROOT / top).rglob("*")):
            if (
                path.is_file()
                and path.suffix in SOURCE_SUFFIXES
                and "__pycache__" not in path.parts
            ):
                yield path


def test_nothing_points_at_design_notes_outside_the_repository() -> None:
    this = Path(__file__).resolve()
    found = []
    for path in source_files():
        if path.resolve() == this:
            continue
        for number, line in enumerate(
            path.read_text(encoding="utf-8", errors="replace").splitlines(), 1
        ):
            for match in OUTSIDE_NOTES.finditer(line):
                found.append(f"{rel(path)}:{number}: {match.group(0)}")
    assert not found, (
        "pointers to notes outside the repository (point to docs/ or say the thing): "
        + "; ".join(found)
    )


def test_every_docs_page_named_in_code_and_docs_exists() -> None:
    this = Path(__file__).resolve()
    found = []
    for path in source_files():
        if path.resolve() == this:
            continue  # its own examples of broken pointers
        for number, line in enumerate(
            path.read_text(encoding="utf-8", errors="replace").splitlines(), 1
        ):
            for match in DOC_POINTER.finditer(line):
                name = match.group(0)
                if name not in PLANNED and not (ROOT / name).is_file():
                    found.append(f"{rel(path)}:{number}: {name}")
    assert not found, "no such page: " + "; ".join(found)
