"""The shape of a spec file, declared once (pydantic): types, defaults, allowed values.

Every table is a model that forbids unknown fields and converts nothing behind the
user's back (strict: ``"1.0"`` is not a number, ``1`` is not a boolean; an integer is
accepted where a number is). ``parse_spec`` turns pydantic's errors into one line
that names the file, the table and the field (``svc.toml [ops.read]: field 'http':
Field required``). What one table cannot know (placeholders, which ports exist, the
workloads' operations) is checked by the loader, with the same kind of message.

docs/spec-files.md documents each field; a change here belongs there too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chaoskit.core.target import Ready
from chaoskit.errors import ConfigError

#: Operation names, and the workloads that need them.
WORKLOAD_OPS: dict[str, tuple[str, ...]] = {
    "register": ("read", "write", "cas"),
    "kv": ("get", "put"),
    "set": ("add", "read-set"),
}
OpName = Literal["read", "write", "cas", "get", "put", "add", "read-set"]
#: A port's name is used as ``{ports.NAME}``: a Python identifier.
PortName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Text = Annotated[str, Field(min_length=1)]
#: The longest time a spec may give (TOML also reads ``inf``): a day.
MAX_SECONDS = 86_400.0
Positive = Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
HTTP = r"^(GET|POST|PUT|DELETE|PATCH) /"
T = TypeVar("T", bound=BaseModel)


class SpecError(ConfigError):
    """A spec file with a missing, mistyped or inconsistent field (the message names it)."""


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PortTable(_Table):
    #: Peers dial this port: it sits behind the fault proxies.
    peer: bool = False


class LaunchTable(_Table):
    argv: list[Text] = Field(min_length=1)
    peer_argv: list[str] = []
    env: dict[str, str] = {}
    peer_format: str = "{peer.id}={peer.host}:{peer.port}"
    peer_separator: str = ","


class StatusTable(_Table):
    http: Annotated[str, Field(pattern=HTTP)] | None = None
    command: list[Text] | None = Field(default=None, min_length=1)
    python: Text | None = None
    #: The named port the probe (http, python) is sent to; default the node's first.
    port: PortName | None = None
    role: Text | None = None
    is_leader: Text | None = None
    leader: Text | None = None
    term: Text | None = None
    leader_values: list[str] = ["leader"]
    candidate_values: list[str] = ["candidate"]

    @model_validator(mode="after")
    def _one_way(self) -> StatusTable:
        ways = [k for k in ("http", "command", "python") if getattr(self, k) is not None]
        if len(ways) != 1:
            raise ValueError("give exactly one of 'http', 'command' or 'python'")
        if self.python is None and self.role is None and self.is_leader is None:
            raise ValueError("give 'role' or 'is_leader' (which field says it leads)")
        return self


class HttpOpTable(_Table):
    http: Annotated[str, Field(pattern=HTTP)]
    body: str | None = None
    value: Text | None = None
    fail_status: list[Annotated[int, Field(ge=100, le=599)]] = [409, 412, 421]
    leader_field: str | None = "leader"


class ClientTable(_Table):
    #: ``module:Class``, imported with the spec file's folder first on ``sys.path``.
    python: Annotated[str, Field(pattern=r"^[\w.]+:[A-Za-z_]\w*$")]


class DockerTable(_Table):
    image: Text
    port: Annotated[int, Field(ge=1, le=65535)] | None = None


class SpecFile(_Table):
    name: Text
    description: str | None = None
    policy: Literal["strict", "per-term"] = "strict"
    election_timeout: Positive = 1.0
    election_deadline: Positive | None = None
    proxy_mode: Literal["pair", "destination"] = "pair"
    workloads: list[Literal["none", "register", "kv", "set"]] = ["none"]
    ready: Ready = "answer"
    settle_s: Annotated[float, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)] = 0.0
    fault_s: Positive | None = None
    heal_s: Positive | None = None
    ports: dict[PortName, PortTable] = Field(
        default_factory=lambda: {"api": PortTable(peer=True)}, min_length=1
    )
    launch: LaunchTable
    status: StatusTable
    client: ClientTable | None = None
    #: Checked per operation by the loader: an HTTP table or a command table.
    ops: dict[OpName, dict[str, Any]] = {}
    docker: DockerTable | None = None
    #: The hosts of ``--runtime ssh``: an inventory, read and checked by the ssh runtime
    #: itself (chaoskit/remote/inventory.py); here only that it is a table.
    ssh: dict[str, Any] | None = None


def parse_spec(data: dict[str, Any], source: str) -> SpecFile:
    """Validate the TOML of a spec file; ``SpecError`` names each wrong field."""
    return validate(SpecFile, data, source)


def validate(model: type[T], data: Any, where: str) -> T:
    """``data`` as a ``model``; a one-line ``SpecError`` naming, after ``where`` (the
    file, and the table when ``data`` is one), each wrong field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first, *more = [_one(where, err) for err in exc.errors()]
        # Later errors name only their table and field: the file is already named.
        rest = [m.removeprefix(where).removeprefix(" ").removeprefix(": ") for m in more]
        raise SpecError("; ".join([first, *rest])) from None


def _one(source: str, err: Any) -> str:
    """``source [table.sub]: field 'name' (item 2): message`` for one pydantic error."""
    loc = [str(part) if isinstance(part, str) else part for part in err["loc"]]
    while loc and isinstance(loc[-1], int):
        loc.pop()  # an item of a list: named below
    items = [part for part in err["loc"][len(loc) :] if isinstance(part, int)]
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return f"{_where(source, loc[:-1])}: unknown field '{loc[-1]}'"
    if loc and loc[-1] == "[key]":  # a table's name that is not allowed (ops.frobnicate)
        return f"{_where(source, loc[:-2])}: name '{loc[-2]}': {message}"
    if not loc or err["type"] == "value_error":
        return f"{_where(source, loc)}: {message}"
    item = f" (item {items[0]})" if items else ""
    return f"{_where(source, loc[:-1])}: field '{loc[-1]}'{item}: {message}"


def _where(source: str, tables: list[Any]) -> str:
    path = ".".join(str(t) for t in tables)
    return f"{source} [{path}]" if path else source
