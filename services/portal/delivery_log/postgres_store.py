"""The delivery log in PostgreSQL (``SIGNET_DATABASE_URL=postgresql://…``), through asyncpg.

Writers run in READ COMMITTED transactions and take the chain heads they extend with
``SELECT … FOR UPDATE`` (in workspace order, so two replicas never deadlock), which is what
keeps a chain linear even while a rebalance briefly lets two portals hold one partition.
Exports read in a REPEATABLE READ read-only transaction: one instant of the log.

``?schema=name`` in the URL puts the tables in that schema (created if missing), so several
Signet installations, or test runs, can share a database.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import asyncpg.exceptions as pg
from signet_sdk.ids import now_ms

from services.portal.delivery_log.database import Connection, Row, migrate, roll_back
from services.portal.delivery_log.errors import RecordRejected, StoreUnavailable
from services.portal.delivery_log.schema import Dialect, statements
from services.portal.delivery_log.sql_store import SqlLogStore

ACQUIRE_TIMEOUT_SECONDS = 10.0
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PLACEHOLDER = re.compile(r"\?")
# Any constant: replicas starting together create the tables one at a time.
_DDL_LOCK = 0x5167_6E65_744C_6F67


@cache
def numbered(sql: str) -> str:
    """``?`` placeholders → ``$1, $2, …`` (our statements have no other question marks)."""
    counter = iter(range(1, 1 << 16))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)


def split_schema(database_url: str) -> tuple[str, str | None]:
    """The DSN for asyncpg and the ``schema`` query parameter, if any."""
    parts = urlsplit(database_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    if schema is not None and not _SCHEMA_NAME.match(schema):
        raise ValueError(f"schema {schema!r} must match {_SCHEMA_NAME.pattern}")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


@contextmanager
def _translated() -> Iterator[None]:
    """Driver errors become the log's errors at this boundary."""
    try:
        yield
    except (
        pg.DataError,
        pg.IntegrityConstraintViolationError,
        pg.ProgramLimitExceededError,
    ) as exc:
        raise RecordRejected(f"postgres refused the record: {exc}") from exc
    except (pg.PostgresError, pg.InterfaceError, OSError, TimeoutError) as exc:
        raise StoreUnavailable(f"postgres: {type(exc).__name__}: {exc}") from exc


class _Conn:
    def __init__(self, connection: asyncpg.pool.PoolConnectionProxy[Any]) -> None:
        self._connection = connection

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        with _translated():
            rows = await self._connection.fetch(numbered(sql), *args)
        return [dict(row) for row in rows]

    async def execute(self, sql: str, *args: Any) -> int:
        with _translated():
            status = await self._connection.execute(numbered(sql), *args)
        # A command tag such as "DELETE 12": the last word counts the rows.
        last = status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with _translated():
                await self._connection.executemany(numbered(sql), rows)


class PostgresDatabase:
    dialect = Dialect.POSTGRESQL

    def __init__(self, database_url: str, *, pool_size: int = 10) -> None:
        self._dsn, self._schema = split_schema(database_url)
        self._pool_size = pool_size
        self._pool: asyncpg.Pool[Any] | None = None

    async def open(self) -> None:
        if self._pool is not None:
            return
        settings = {"application_name": "signet-portal-log"}
        if self._schema:
            settings["search_path"] = self._schema
        with _translated():
            pool = await asyncpg.create_pool(
                self._dsn, min_size=1, max_size=self._pool_size, server_settings=settings
            )
        try:
            with _translated():
                async with pool.acquire() as connection, connection.transaction():
                    await connection.execute("SELECT pg_advisory_xact_lock($1)", _DDL_LOCK)
                    if self._schema:
                        await connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
                    for statement in statements(self.dialect):
                        await connection.execute(statement)
                    await migrate(_Conn(connection), self.dialect, now_ms())
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @asynccontextmanager
    async def _acquire(self) -> AsyncIterator[asyncpg.pool.PoolConnectionProxy[Any]]:
        pool = self._pool
        if pool is None:
            raise StoreUnavailable("the delivery log is not open")
        with _translated():
            connection = await pool.acquire(timeout=ACQUIRE_TIMEOUT_SECONDS)
        try:
            yield connection
        finally:
            await pool.release(connection)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        async with self._acquire() as connection:
            yield _Conn(connection)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Connection]:
        async with self._acquire() as connection:
            transaction = connection.transaction()
            with _translated():
                await transaction.start()
            try:
                yield _Conn(connection)
            except BaseException:
                # A failed rollback means a broken connection: the pool discards it, and
                # the error worth reporting is the one that got us here.
                await roll_back(transaction.rollback)
                raise
            with _translated():
                await transaction.commit()

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Connection]:
        async with self._acquire() as connection:
            transaction = connection.transaction(isolation="repeatable_read", readonly=True)
            with _translated():
                await transaction.start()
            try:
                yield _Conn(connection)
            finally:
                await roll_back(transaction.rollback)

    def lock_clause(self) -> str:
        return " FOR UPDATE"

    async def drop_schema(self) -> None:
        """Tests: remove this store's schema and everything in it."""
        if self._schema is None:
            raise ValueError("only a store opened with ?schema= can drop its schema")
        async with self._acquire() as connection:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{self._schema}" CASCADE')


def postgres_store(database_url: str, **options: Any) -> SqlLogStore:
    return SqlLogStore(PostgresDatabase(database_url, **options))
