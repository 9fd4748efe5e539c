"""``LogStore`` over SQL: the reads, the export snapshot, and waiting for an outcome.

The same statements run on SQLite and PostgreSQL (``database.py`` hides the drivers);
writes are in ``sql_writes.py``. Every query names the workspace first: the primary keys
and indexes start with it, and no answer can hold another workspace's rows.
"""

# ruff: noqa: S608 - statements are assembled from constants; values are always bound.

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

import orjson

from services.portal.delivery_log.chain import (
    checked_delivery,
    checked_erasure,
    checked_outcome,
    is_name,
)
from services.portal.delivery_log.database import Connection, Database, Row, chunks, in_list
from services.portal.delivery_log.errors import InvalidCursor, RecordRejected
from services.portal.delivery_log.rollup import DestinationStats, read_stats
from services.portal.delivery_log.sql_writes import apply_records, purge_before
from services.portal.delivery_log.store import (
    ApplyResult,
    AttemptRecord,
    DeliveryFilter,
    DeliveryHistory,
    DeliveryPage,
    DeliveryRecord,
    DeliveryStatus,
    DeliverySummary,
    EventRecord,
    LogSnapshot,
    ProjectionBatch,
    PurgeResult,
)
from signet.errors import InvalidRecordError
from signet.security.hash_chain import ChainHead, Link

# Deliveries looked up by id per query (bound parameters stay well under every limit).
ID_CHUNK = 200
DEFAULT_POLL_SECONDS = 0.5
_SUMMARY = (
    "workspace_id, id, destination_id, event_id, event_type, event_created_at, status, "
    "attempts, last_attempt_id, last_status, last_attempt_at, last_http_status, "
    "next_attempt_at, replay_of, first_seen_at, updated_at"
)
_ATTEMPT = (
    "workspace_id, id, seq, prev_hash, hash, logged_at, delivery_id, event_id, destination_id, "
    "event_type, status, attempt, attempted_at, event_created_at, url, http_status, latency_ms, "
    "error, response_excerpt, request_headers, next_attempt_at, replay_of"
)
_NEWEST_FIRST = " ORDER BY event_created_at DESC, id DESC"
# A delivery's body and when its event's payload was erased (NULL: never).
_BODY = (
    "body, (SELECT erased_at FROM log_erasures WHERE log_erasures.workspace_id = "
    "log_deliveries.workspace_id AND log_erasures.event_id = log_deliveries.event_id) "
    "AS payload_erased_at"
)


class ChangeSignal:
    """Wakes every waiter when the projection commits; take ``waiter()`` *before* reading."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def waiter(self) -> asyncio.Event:
        return self._event

    def notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()


def encode_cursor(row: DeliverySummary) -> str:
    raw = orjson.dumps([row.event_created_at, row.id])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = orjson.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("the cursor is not one this API issued") from exc
    if (
        isinstance(value, list)
        and len(value) == 2
        and type(value[0]) is int
        and -(2**63) <= value[0] < 2**63
        and isinstance(value[1], str)
        and is_name(value[1])
    ):
        return value[0], value[1]
    raise InvalidCursor("the cursor is not one this API issued")


def _summary(row: Row) -> DeliverySummary:
    return DeliverySummary(**_summary_fields(row))


def _summary_fields(row: Row) -> dict[str, Any]:
    fields = {k: row[k] for k in _SUMMARY.split(", ")}
    fields["status"] = DeliveryStatus(row["status"])
    return fields


def _record(row: Row) -> DeliveryRecord:
    body = row["body"]
    return DeliveryRecord(
        **_summary_fields(row),
        body=None if body is None else bytes(body),
        payload_erased_at=row["payload_erased_at"],
    )


def _attempt(row: Row) -> AttemptRecord:
    fields = {k: row[k] for k in _ATTEMPT.split(", ")}
    fields["request_headers"] = orjson.loads(row["request_headers"])
    return AttemptRecord(**fields)


class _Snapshot:
    def __init__(self, conn: Connection, head: ChainHead) -> None:
        self._conn = conn
        self._head = head

    @property
    def head(self) -> ChainHead:
        return self._head

    async def links(self, batch_size: int = 500) -> AsyncIterator[Sequence[Link]]:
        after = -1
        while True:
            # Attempts and notes (erasures) share one sequence; a chain's entries are both.
            between = "WHERE workspace_id = ? AND seq > ? AND seq <= ?"
            bounds = (self._head.workspace_id, after, self._head.seq)
            rows = await self._conn.fetch(
                f"SELECT seq, prev_hash, hash, entry FROM log_attempts {between} UNION ALL "
                f"SELECT seq, prev_hash, hash, entry FROM log_chain_notes {between} "
                "ORDER BY seq LIMIT ?",
                *bounds,
                *bounds,
                batch_size,
            )
            if not rows:
                return
            yield [Link(r["seq"], r["prev_hash"], r["hash"], r["entry"].encode()) for r in rows]
            after = rows[-1]["seq"]


class SqlLogStore:
    """The delivery log on one :class:`Database` (SQLite or PostgreSQL)."""

    def __init__(self, database: Database, *, poll_seconds: float = DEFAULT_POLL_SECONDS) -> None:
        self.database = database
        self._poll_seconds = poll_seconds
        self._signal = ChangeSignal()

    async def start(self) -> None:
        await self.database.open()

    async def stop(self) -> None:
        await self.database.close()

    async def __aenter__(self) -> SqlLogStore:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- reads ---------------------------------------------------------------------------

    async def _fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self.database.read() as conn:
            return await conn.fetch(sql, *args)

    async def get_delivery(self, workspace_id: str, delivery_id: str) -> DeliveryRecord | None:
        rows = await self._fetch(
            f"SELECT {_SUMMARY}, {_BODY} FROM log_deliveries WHERE workspace_id = ? AND id = ?",
            workspace_id,
            delivery_id,
        )
        return _record(rows[0]) if rows else None

    async def list_deliveries(
        self, workspace_id: str, filters: DeliveryFilter, cursor: str | None, limit: int
    ) -> DeliveryPage:
        where: list[str] = ["workspace_id = ?"]
        args: list[Any] = [workspace_id]
        if filters.destination_id is not None:
            where.append("destination_id = ?")
            args.append(filters.destination_id)
        if filters.status is not None:
            where.append("status = ?")
            args.append(filters.status.value)
        pattern = filters.event_type
        if pattern is not None and pattern != "*":
            if pattern.endswith(".*"):
                # substr, not LIKE: SQLite's LIKE ignores case, and `_` would be a wildcard.
                where.append("substr(event_type, 1, ?) = ?")
                args += [len(pattern) - 1, pattern[:-1]]
            else:
                where.append("event_type = ?")
                args.append(pattern)
        if filters.since is not None:
            where.append("event_created_at >= ?")
            args.append(filters.since)
        if filters.until is not None:
            where.append("event_created_at < ?")
            args.append(filters.until)
        if cursor is not None:
            at, last_id = decode_cursor(cursor)
            where.append("(event_created_at < ? OR (event_created_at = ? AND id < ?))")
            args += [at, at, last_id]
        rows = await self._fetch(
            f"SELECT {_SUMMARY} FROM log_deliveries WHERE {' AND '.join(where)}"
            f"{_NEWEST_FIRST} LIMIT ?",
            *args,
            limit + 1,
        )
        items = tuple(_summary(r) for r in rows[:limit])
        more = len(rows) > limit
        return DeliveryPage(items, encode_cursor(items[-1]) if more and items else None)

    async def failed_deliveries(
        self,
        workspace_id: str,
        destination_id: str,
        since: int,
        until: int | None,
        limit: int,
    ) -> list[DeliveryRecord]:
        upper = "" if until is None else " AND event_created_at < ?"
        rows = await self._fetch(
            f"SELECT {_SUMMARY}, {_BODY} FROM log_deliveries WHERE workspace_id = ? "
            "AND destination_id = ? AND status IN (?, ?) AND event_created_at >= ?"
            f"{upper} ORDER BY event_created_at, id LIMIT ?",
            workspace_id,
            destination_id,
            DeliveryStatus.FAILED.value,
            DeliveryStatus.EXHAUSTED.value,
            since,
            *(() if until is None else (until,)),
            limit,
        )
        return [_record(r) for r in rows]

    async def get_event(self, workspace_id: str, event_id: str) -> EventRecord | None:
        async with self.database.read() as conn:
            rows = await conn.fetch(
                f"SELECT {_SUMMARY}, {_BODY} FROM log_deliveries WHERE workspace_id = ? "
                "AND event_id = ? ORDER BY first_seen_at, id",
                workspace_id,
                event_id,
            )
            if not rows:
                return None
            attempt_rows: list[Row] = []
            for chunk in chunks([r["id"] for r in rows], ID_CHUNK):
                attempt_rows += await conn.fetch(
                    f"SELECT {_ATTEMPT} FROM log_attempts WHERE workspace_id = ? "
                    f"AND delivery_id IN {in_list(len(chunk))}",
                    workspace_id,
                    *chunk,
                )
        attempt_rows.sort(key=lambda row: row["seq"])
        deliveries = [_record(r) for r in rows]
        by_delivery: dict[str, list[AttemptRecord]] = {}
        for row in attempt_rows:
            attempt = _attempt(row)
            by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
        first = deliveries[0]
        return EventRecord(
            event_id=event_id,
            workspace_id=workspace_id,
            event_type=first.event_type,
            created_at=first.event_created_at,
            body=next((d.body for d in deliveries if d.body is not None), None),
            deliveries=tuple(
                DeliveryHistory(_summary(r), tuple(by_delivery.get(r["id"], ()))) for r in rows
            ),
            payload_erased_at=first.payload_erased_at,
        )

    async def attempts(self, workspace_id: str, delivery_id: str) -> list[AttemptRecord]:
        rows = await self._fetch(
            f"SELECT {_ATTEMPT} FROM log_attempts WHERE workspace_id = ? AND delivery_id = ? "
            "ORDER BY seq",
            workspace_id,
            delivery_id,
        )
        return [_attempt(r) for r in rows]

    async def wait_for_outcome(
        self,
        workspace_id: str,
        delivery_id: str,
        *,
        after_attempt_id: str | None,
        timeout: float,
    ) -> AttemptRecord | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        after_seq = 0
        if after_attempt_id is not None:
            rows = await self._fetch(
                "SELECT seq FROM log_attempts WHERE workspace_id = ? AND id = ?",
                workspace_id,
                after_attempt_id,
            )
            after_seq = rows[0]["seq"] if rows else 0
        while True:
            waiter = self._signal.waiter()
            rows = await self._fetch(
                f"SELECT {_ATTEMPT} FROM log_attempts WHERE workspace_id = ? "
                "AND delivery_id = ? AND seq > ? ORDER BY seq LIMIT 1",
                workspace_id,
                delivery_id,
                after_seq,
            )
            if rows:
                return _attempt(rows[0])
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            # Woken by our own projection at once; polling finds other replicas' writes.
            with suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), min(remaining, self._poll_seconds))

    async def destination_stats(
        self, workspace_id: str, destination_id: str, *, start: int, bucket_ms: int, count: int
    ) -> DestinationStats:
        async with self.database.read() as conn:
            return await read_stats(
                conn, workspace_id, destination_id, start=start, bucket_ms=bucket_ms, count=count
            )

    # -- the chain ------------------------------------------------------------------------

    async def log_head(self, workspace_id: str) -> ChainHead:
        async with self.database.read() as conn:
            return await _head(conn, workspace_id)

    @asynccontextmanager
    async def snapshot(self, workspace_id: str) -> AsyncIterator[LogSnapshot]:
        async with self.database.snapshot() as conn:
            yield _Snapshot(conn, await _head(conn, workspace_id))

    # -- writes ---------------------------------------------------------------------------

    async def apply(self, batch: ProjectionBatch, *, now_ms: int) -> ApplyResult:
        try:  # the projection checked them already; other writers may not have
            deliveries = [checked_delivery(d) for d in batch.deliveries]
            outcomes = [checked_outcome(o) for o in batch.outcomes]
        except InvalidRecordError as exc:
            raise RecordRejected(str(exc)) from exc
        async with self.database.write() as conn:
            result = await apply_records(
                conn,
                deliveries,
                outcomes,
                now_ms,
                self.database.lock_clause(),
                [checked_erasure(e) for e in batch.erasures],
            )
        if result.new_attempts:
            self._signal.notify()
        return result

    async def purge(
        self,
        before_ms: int,
        *,
        max_rows: int = 10_000,
        workspace_id: str | None = None,
        excluding: Collection[str] = (),
    ) -> PurgeResult:
        async with self.database.write() as conn:
            return await purge_before(
                conn, before_ms, max_rows, workspace_id=workspace_id, excluding=excluding
            )


async def _head(conn: Connection, workspace_id: str) -> ChainHead:
    rows = await conn.fetch("SELECT seq, hash FROM log_heads WHERE workspace_id = ?", workspace_id)
    if not rows:
        return ChainHead.genesis(workspace_id)
    return ChainHead(workspace_id, rows[0]["seq"], rows[0]["hash"])
