"""The delivery log in a SQLite file (the embedded default), through aiosqlite.

One writer connection (SQLite has one writer at a time anyway) whose transactions start
with ``BEGIN IMMEDIATE``, so a second process on the same file waits for the lock instead
of failing half-way; an asyncio lock keeps this process's writers (projection, retention)
from sharing a transaction. Reads use a small pool of their own connections: in WAL mode
they see committed data only and never wait for the writer. An export opens a connection
of its own and reads inside one transaction: a stable snapshot of the file.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiosqlite
from signet_sdk.ids import now_ms

from services.portal.delivery_log.database import Connection, Row, migrate, roll_back
from services.portal.delivery_log.errors import RecordRejected, StoreUnavailable
from services.portal.delivery_log.schema import Dialect, statements
from services.portal.delivery_log.sql_store import SqlLogStore

BUSY_TIMEOUT_MS = 10_000
SCHEME = "sqlite:///"


def sqlite_path(database_url: str) -> Path:
    """``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``."""
    if not database_url.startswith(SCHEME) or len(database_url) == len(SCHEME):
        raise ValueError(f"{database_url!r} is not sqlite:///<path>")
    return Path(database_url[len(SCHEME) :])


class _Conn:
    """A :class:`Connection` over one aiosqlite connection, translating errors."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        with _translated():
            async with self._connection.execute(sql, args) as cursor:
                rows = await cursor.fetchall()
        return [dict(row) for row in rows]

    async def execute(self, sql: str, *args: Any) -> int:
        with _translated():
            async with self._connection.execute(sql, args) as cursor:
                return max(cursor.rowcount, 0)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with _translated():
            await self._connection.executemany(sql, rows)


@contextmanager
def _translated() -> Iterator[None]:
    """Driver errors become the log's errors at this boundary."""
    try:
        yield
    except (sqlite3.IntegrityError, sqlite3.DataError, OverflowError) as exc:
        raise RecordRejected(f"sqlite refused the record: {exc}") from exc
    except (sqlite3.Error, OSError) as exc:
        raise StoreUnavailable(f"sqlite: {exc}") from exc


class SqliteDatabase:
    dialect = Dialect.SQLITE

    def __init__(self, path: Path, *, readers: int = 4, snapshots: int = 4) -> None:
        self._path = path
        self._reader_count = readers
        self._writer: aiosqlite.Connection | None = None
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        self._write_lock = asyncio.Lock()
        self._snapshots = asyncio.Semaphore(snapshots)

    async def _connect(self) -> aiosqlite.Connection:
        with _translated():
            connection = await aiosqlite.connect(self._path, isolation_level=None)
            connection.row_factory = sqlite3.Row
            await connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await connection.execute("PRAGMA foreign_keys = ON")
        return connection

    async def open(self) -> None:
        if self._writer is not None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        writer = await self._connect()
        try:
            with _translated():
                await writer.execute("PRAGMA journal_mode = WAL")
                # WAL + NORMAL: a commit survives a process crash; only a power cut may lose
                # the last ones, which the projection then re-reads from Kafka.
                await writer.execute("PRAGMA synchronous = NORMAL")
                for statement in statements(self.dialect):
                    await writer.execute(statement)
            conn = _Conn(writer)
            await conn.execute("BEGIN IMMEDIATE")  # a second process waits, then finds them run
            try:
                await migrate(conn, self.dialect, now_ms())
            except BaseException:
                await roll_back(writer.rollback)
                raise
            await conn.execute("COMMIT")
            for _ in range(self._reader_count):
                reader = await self._connect()
                self._all_readers.append(reader)
                self._readers.put_nowait(reader)
        except BaseException:
            await writer.close()
            await self._close_readers()
            raise
        self._writer = writer

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        async with self._write_lock:
            await writer.close()
        await self._close_readers()

    async def _close_readers(self) -> None:
        readers, self._all_readers = self._all_readers, []
        self._readers = asyncio.Queue()
        for reader in readers:
            await reader.close()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        if self._writer is None:
            raise StoreUnavailable("the delivery log is not open")
        reader = await self._readers.get()
        try:
            yield _Conn(reader)
        finally:
            self._readers.put_nowait(reader)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Connection]:
        async with self._write_lock:
            writer = self._writer
            if writer is None:
                raise StoreUnavailable("the delivery log is not open")
            conn = _Conn(writer)
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                # The error worth reporting is the one that got us here.
                await roll_back(writer.rollback)
                raise
            await conn.execute("COMMIT")

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Connection]:
        if self._writer is None:
            raise StoreUnavailable("the delivery log is not open")
        async with self._snapshots:
            connection = await self._connect()
            try:
                conn = _Conn(connection)
                await conn.execute("BEGIN")
                yield conn
                await conn.execute("COMMIT")
            finally:
                await connection.close()

    def lock_clause(self) -> str:
        return ""  # BEGIN IMMEDIATE already holds the only write lock


def sqlite_store(database_url: str, **options: Any) -> SqlLogStore:
    return SqlLogStore(SqliteDatabase(sqlite_path(database_url), **options))
