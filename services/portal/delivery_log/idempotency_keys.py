"""The portal's idempotency keys: what the first request with a key wrote, kept a while.

One row per (scope, key): the scope is the caller (``operator``, or the session's workspace
id), the fingerprint the request it was first used for, ``command`` the WorkspaceCommand
that request produced (Avro) and ``revealed`` the one-time secret its answer showed,
sealed (JSON of a ``SealedSecret``; NULL when it showed none). ``applied_at`` is set once
a request saw the command applied. Rows older than the key's lifetime are ignored, and
deleted by the next claim. ``services/portal/idempotency.py`` is what uses them.
"""

# ruff: noqa: S608 - statements are assembled from constants; values are always bound.

from __future__ import annotations

from dataclasses import dataclass

from services.portal.delivery_log.database import Database, Row

# Table and index (``{BIGINT}``, ``{BYTES}`` are filled in per dialect by schema.py).
TABLE_DDL = """CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    command {BYTES} NOT NULL,
    revealed TEXT,
    created_at {BIGINT} NOT NULL,
    applied_at {BIGINT},
    PRIMARY KEY (scope, key)
)"""
INDEX_DDL = (
    "CREATE INDEX IF NOT EXISTS idempotency_keys_by_created ON idempotency_keys (created_at)"
)

_COLUMNS = "scope, key, fingerprint, command, revealed, created_at, applied_at"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    scope: str
    key: str
    fingerprint: str
    command: bytes
    revealed: str | None
    created_at: int
    applied_at: int | None = None

    @classmethod
    def of(cls, row: Row) -> KeyRecord:
        return cls(**{**row, "command": bytes(row["command"])})


class IdempotencyKeys:
    """The rows, on the portal's database (the delivery log's: SQLite or PostgreSQL).

    Errors are the database's: ``StoreUnavailable`` when it does not answer.
    """

    def __init__(self, database: Database, *, ttl_ms: int) -> None:
        self._db = database
        self._ttl_ms = ttl_ms

    async def find(self, scope: str, key: str, *, now_ms: int) -> KeyRecord | None:
        """The live row of ``key`` (not older than the lifetime), or None."""
        async with self._db.read() as conn:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM idempotency_keys "
                "WHERE scope = ? AND key = ? AND created_at > ?",
                scope,
                key,
                now_ms - self._ttl_ms,
            )
        return KeyRecord.of(rows[0]) if rows else None

    async def claim(self, record: KeyRecord) -> tuple[KeyRecord, bool]:
        """Store ``record`` unless its key has a live row; the row that holds, and whether it
        is ``record`` (False: a request before, or beside, this one claimed the key)."""
        async with self._db.write() as conn:
            await conn.execute(
                "DELETE FROM idempotency_keys WHERE created_at <= ?",
                record.created_at - self._ttl_ms,
            )
            inserted = await conn.execute(
                f"INSERT INTO idempotency_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (scope, key) DO NOTHING",
                record.scope,
                record.key,
                record.fingerprint,
                record.command,
                record.revealed,
                record.created_at,
                record.applied_at,
            )
            if inserted:
                return record, True
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM idempotency_keys WHERE scope = ? AND key = ?",
                record.scope,
                record.key,
            )
        return KeyRecord.of(rows[0]), False

    async def mark_applied(self, scope: str, key: str, *, now_ms: int) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE idempotency_keys SET applied_at = ? "
                "WHERE scope = ? AND key = ? AND applied_at IS NULL",
                now_ms,
                scope,
                key,
            )
