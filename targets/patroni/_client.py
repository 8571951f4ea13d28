"""Register and set operations on Patroni's PostgreSQL through psycopg 3: a plug-in.

One ``PgClient`` per logical client process (chaoskit.clients.plugin), connected to
its node's own PostgreSQL (autocommit, one statement per op):

- ``register``: table ``chaoskit_register(key text primary key, value jsonb)``;
  ``read`` a SELECT, ``write`` an upsert, ``cas [from, to]`` an
  ``UPDATE ... WHERE key = k AND value = from`` that fails when no row matched.
- ``set``: table ``chaoskit_set(value bigint)``; ``add`` an INSERT, ``read-set`` a
  SELECT of every row.

Reads run only where PostgreSQL is not in recovery (the node that believes it is the
primary): a replica's read is refused (``fail``), not served stale. A write a replica
refuses (read-only transaction) certainly did not happen: ``fail``. A lost connection
or a server error after a write was sent may hide a commit: ``info``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaoskit.core.client import OpFailed
from chaoskit.core.target import NodeInfo
from chaoskit.errors import SetupError
from chaoskit.targets.patroni._config import PASSWORD, USER

CONNECT_TIMEOUT_S = 2
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS chaoskit_register (key text PRIMARY KEY, value jsonb)",
    "CREATE TABLE IF NOT EXISTS chaoskit_set (value bigint NOT NULL)",
)
READ = "SELECT pg_is_in_recovery(), (SELECT value FROM chaoskit_register WHERE key = %s)"
WRITE = (
    "INSERT INTO chaoskit_register (key, value) VALUES (%s, %s) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
CAS = "UPDATE chaoskit_register SET value = %s WHERE key = %s AND value = %s"
ADD = "INSERT INTO chaoskit_set (value) VALUES (%s)"
READ_SET = "SELECT pg_is_in_recovery(), (SELECT array_agg(value ORDER BY value) FROM chaoskit_set)"


def _psycopg() -> Any:
    try:
        import psycopg
        import psycopg.errors
        import psycopg.types.json
    except ImportError as exc:
        raise SetupError("the patroni target needs psycopg: pip install 'psycopg[binary]'") from exc
    return psycopg


class PgClient:
    """An autocommit connection to one node's PostgreSQL (its real ``postgres`` port)."""

    def __init__(self) -> None:
        self._conn: Any = None

    async def open(self, node: NodeInfo) -> None:
        psycopg = _psycopg()
        self._conn = await psycopg.AsyncConnection.connect(
            host=node.host,
            port=node.ports["postgres"],
            user=USER,
            password=PASSWORD,
            dbname="postgres",
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
        )
        async with self._conn.cursor() as cur:
            await cur.execute("SELECT pg_is_in_recovery()")
            (recovering,) = await cur.fetchone()
            if not recovering:
                for statement in SCHEMA:
                    await cur.execute(statement)

    async def invoke(self, op: Mapping[str, Any]) -> Any:
        psycopg = _psycopg()
        f = op["f"]
        try:
            async with self._conn.cursor() as cur:
                if f in ("read", "read-set"):
                    return await self._read(cur, op)
                if f == "write":
                    await cur.execute(WRITE, (op["key"], _json(op["value"])))
                elif f == "cas":
                    expected, new = op["value"]
                    await cur.execute(CAS, (_json(new), op["key"], _json(expected)))
                    if cur.rowcount != 1:
                        raise OpFailed(f"cas: value is not {expected!r}")
                elif f == "add":
                    await cur.execute(ADD, (op["value"],))
                else:
                    raise OpFailed(f"patroni has no operation {f!r}")
                return None
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            raise OpFailed("read-only: not the primary") from exc
        except psycopg.errors.UndefinedTable as exc:
            raise OpFailed("no table yet: not created on a primary") from exc

    async def _read(self, cur: Any, op: Mapping[str, Any]) -> Any:
        psycopg = _psycopg()
        try:
            if op["f"] == "read":
                await cur.execute(READ, (op["key"],))
            else:
                await cur.execute(READ_SET)
            recovering, value = await cur.fetchone()
        except psycopg.Error as exc:
            raise OpFailed(f"read: {type(exc).__name__}: {exc}".strip()) from exc
        if recovering:
            raise OpFailed("read on a replica: not the primary")
        if op["f"] == "read-set":
            return list(value or [])
        return value

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()


def _json(value: Any) -> Any:
    return _psycopg().types.json.Jsonb(value)
