"""The few things the log's SQL needs from a database driver, so it is written once.

Statements use ``?`` placeholders (the PostgreSQL backend renumbers them to ``$n``); rows
come back as dicts. Backends translate driver errors at this boundary into
``StoreUnavailable`` (retry) or ``RecordRejected`` (the data itself).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from services.portal.delivery_log.schema import Dialect, pending_migrations

logger = logging.getLogger(__name__)

Row = dict[str, Any]


async def roll_back(rollback: Callable[[], Awaitable[object]]) -> None:
    """Roll a failed transaction back without hiding why it failed: a rollback that fails
    too (a broken connection, which the pool discards) is logged, not raised, so the
    error worth reporting is the one that got us here."""
    try:
        await rollback()
    except Exception:
        logger.warning("rollback failed too", exc_info=True)


class Connection(Protocol):
    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    async def execute(self, sql: str, *args: Any) -> int:
        """Run one statement; the number of rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


class Database(Protocol):
    dialect: Dialect

    async def open(self) -> None:
        """Connect and create the tables (idempotent)."""
        ...

    async def close(self) -> None: ...

    def read(self) -> AbstractAsyncContextManager[Connection]:
        """A connection for a few reads; sees only committed data."""
        ...

    def write(self) -> AbstractAsyncContextManager[Connection]:
        """One transaction: committed on exit, rolled back on an exception. Writers of the
        same database wait for each other (``lock_heads`` orders writers across replicas)."""
        ...

    def snapshot(self) -> AbstractAsyncContextManager[Connection]:
        """A read-only transaction that sees one instant of the database throughout."""
        ...

    def lock_clause(self) -> str:
        """Appended to the SELECT of chain heads inside ``write`` (``FOR UPDATE`` or nothing
        where the transaction already excludes other writers)."""
        ...


def in_list(count: int) -> str:
    """``(?, ?, ?)`` for an IN clause of ``count`` values."""
    return "(" + ", ".join("?" * count) + ")"


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def migrate(conn: Connection, dialect: Dialect, now_ms: int) -> list[str]:
    """Run the numbered migrations this database has not had yet; the names run. Call it
    inside one transaction that excludes other writers (replicas starting together), so
    each migration runs exactly once and its row commits with its changes."""
    applied = [row["number"] for row in await conn.fetch("SELECT number FROM log_migrations")]
    ran = []
    for number, name, migration in pending_migrations(dialect, applied):
        for statement in migration:
            await conn.execute(statement)
        await conn.execute(
            "INSERT INTO log_migrations (number, name, applied_at) VALUES (?, ?, ?)",
            number,
            name,
            now_ms,
        )
        logger.info("delivery log: migration %d (%s) applied", number, name)
        ran.append(name)
    return ran
