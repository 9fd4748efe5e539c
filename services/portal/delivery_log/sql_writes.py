"""The projection's writes and retention, inside one transaction each (SQL for both dialects).

Idempotence: a delivery or outcome id already present changes nothing. An outcome is
appended to its workspace's chain only when it is new, and only while this transaction
holds that chain's head row, so a replayed topic, or two replicas briefly consuming the
same partition, never extends a chain twice or forks it.

A delivery's state follows its newest attempt (by attempt time, then attempt number), so
outcomes read out of order still leave the right status.
"""

# ruff: noqa: S608 - statements are assembled from constants; values are always bound.

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, TypeVar

import orjson

from services.portal.delivery_log import rollup
from services.portal.delivery_log.chain import entry_fields
from services.portal.delivery_log.database import Connection, chunks, in_list
from services.portal.delivery_log.erasure_writes import apply_erasures, erased_events
from services.portal.delivery_log.store import ApplyResult, DeliveryStatus, PurgeResult
from signet.records.model import Delivery, Outcome, PayloadErasure
from signet.security.hash_chain import ChainHead, append, genesis_hash

CHUNK = 200

_PUT_DELIVERY = """
INSERT INTO log_deliveries (workspace_id, id, destination_id, event_id, event_type,
    event_created_at, body, status, attempts, replay_of, first_seen_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)
ON CONFLICT (workspace_id, id) DO UPDATE SET
    body = excluded.body,
    replay_of = COALESCE(log_deliveries.replay_of, excluded.replay_of)
WHERE log_deliveries.body IS NULL
"""

_ATTEMPT_COLUMNS = (
    "workspace_id, id, seq, prev_hash, hash, entry, logged_at, delivery_id, event_id, "
    "destination_id, event_type, status, attempt, attempted_at, event_created_at, url, "
    "http_status, latency_ms, error, response_excerpt, request_headers, next_attempt_at, "
    "replay_of"
)
_PUT_ATTEMPT = f"INSERT INTO log_attempts ({_ATTEMPT_COLUMNS}) VALUES {in_list(23)}"

# Only a newer attempt moves the delivery's state; every new attempt counts.
_NEWER = (
    "(log_deliveries.last_attempt_at IS NULL"
    " OR excluded.last_attempt_at > log_deliveries.last_attempt_at"
    " OR (excluded.last_attempt_at = log_deliveries.last_attempt_at"
    " AND excluded.last_attempt_no >= log_deliveries.last_attempt_no))"
)
_FOLLOWS_NEWEST = (
    "status",
    "last_attempt_id",
    "last_status",
    "last_attempt_at",
    "last_attempt_no",
    "last_http_status",
    "next_attempt_at",
)
_ATTEMPTED_DELIVERY = f"""
INSERT INTO log_deliveries (workspace_id, id, destination_id, event_id, event_type,
    event_created_at, body, status, attempts, last_attempt_id, last_status, last_attempt_at,
    last_attempt_no, last_http_status, next_attempt_at, replay_of, first_seen_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, NULL, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (workspace_id, id) DO UPDATE SET
    attempts = log_deliveries.attempts + 1,
    updated_at = excluded.updated_at,
    replay_of = COALESCE(log_deliveries.replay_of, excluded.replay_of),
    {
    ", ".join(
        f"{c} = CASE WHEN {_NEWER} THEN excluded.{c} ELSE log_deliveries.{c} END"
        for c in _FOLLOWS_NEWEST
    )
}
"""

R = TypeVar("R", Delivery, Outcome)


def unique(records: Sequence[R]) -> list[R]:
    """First occurrence of each (workspace, id), in order."""
    seen: set[tuple[str, str]] = set()
    out = []
    for record in records:
        key = (record.workspace_id, record.id)
        if key not in seen:
            seen.add(key)
            out.append(record)
    return out


def _by_workspace(records: Sequence[R]) -> dict[str, list[str]]:
    ids: dict[str, list[str]] = {}
    for record in records:
        ids.setdefault(record.workspace_id, []).append(record.id)
    return ids


async def _present(
    conn: Connection, table: str, records: Sequence[R], extra: str = ""
) -> dict[tuple[str, str], dict[str, Any]]:
    """Rows of ``table`` already holding these records' ids, by (workspace, id)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for workspace_id, ids in _by_workspace(records).items():
        for chunk in chunks(ids, CHUNK):
            rows = await conn.fetch(
                f"SELECT id{extra} FROM {table} WHERE workspace_id = ? AND id IN "
                + in_list(len(chunk)),
                workspace_id,
                *chunk,
            )
            found.update({(workspace_id, row["id"]): row for row in rows})
    return found


async def put_deliveries(
    conn: Connection, deliveries: Sequence[Delivery], now_ms: int
) -> tuple[int, int]:
    """Insert new deliveries, fill in bodies learnt late; (new, duplicates).

    The body of an erased event is never stored, whenever its copy arrives."""
    present = await _present(conn, "log_deliveries", deliveries, ", body IS NOT NULL AS has_body")
    fresh = [d for d in deliveries if not present.get((d.workspace_id, d.id), {}).get("has_body")]
    erased = await erased_events(conn, ((d.workspace_id, d.event_id) for d in fresh))
    await conn.executemany(
        _PUT_DELIVERY,
        [
            (
                d.workspace_id,
                d.id,
                d.destination_id,
                d.event_id,
                d.event_type,
                d.event_created_at,
                None if (d.workspace_id, d.event_id) in erased else d.body,
                d.replay_of,
                now_ms,
                now_ms,
            )
            for d in fresh
        ],
    )
    new = sum(1 for d in deliveries if (d.workspace_id, d.id) not in present)
    return new, len(deliveries) - len(fresh)


async def lock_heads(
    conn: Connection, workspace_ids: list[str], lock_clause: str, now_ms: int
) -> dict[str, ChainHead]:
    # Sorted: writers of two replicas take the same rows in the same order, no deadlock.
    await conn.executemany(
        "INSERT INTO log_heads (workspace_id, seq, hash, updated_at) VALUES (?, 0, ?, ?) "
        "ON CONFLICT (workspace_id) DO NOTHING",
        [(ws, genesis_hash(ws), now_ms) for ws in workspace_ids],
    )
    heads: dict[str, ChainHead] = {}
    for chunk in chunks(workspace_ids, CHUNK):
        rows = await conn.fetch(
            "SELECT workspace_id, seq, hash FROM log_heads WHERE workspace_id IN "
            f"{in_list(len(chunk))} ORDER BY workspace_id{lock_clause}",
            *chunk,
        )
        heads.update(
            {r["workspace_id"]: ChainHead(r["workspace_id"], r["seq"], r["hash"]) for r in rows}
        )
    return heads


async def append_outcomes(
    conn: Connection, outcomes: Sequence[Outcome], now_ms: int, lock_clause: str
) -> tuple[int, int, tuple[ChainHead, ...]]:
    """Log new outcomes, extending their chains; (new, duplicates, heads moved)."""
    if not outcomes:
        return 0, 0, ()
    heads = await lock_heads(conn, sorted({o.workspace_id for o in outcomes}), lock_clause, now_ms)
    # Read after taking the heads: a replica that logged these first has committed by now.
    present = await _present(conn, "log_attempts", outcomes)
    new = [o for o in outcomes if (o.workspace_id, o.id) not in present]
    attempts, deliveries = [], []
    moved: dict[str, ChainHead] = {}
    for o in new:
        link, heads[o.workspace_id] = append(heads[o.workspace_id], entry_fields(o))
        moved[o.workspace_id] = heads[o.workspace_id]
        attempts.append(
            (
                o.workspace_id,
                o.id,
                link.seq,
                link.prev_hash,
                link.hash,
                link.entry.decode(),
                now_ms,
                o.delivery_id,
                o.event_id,
                o.destination_id,
                o.event_type,
                o.status,
                o.attempt,
                o.attempted_at,
                o.event_created_at,
                o.url,
                o.http_status,
                o.latency_ms,
                o.error,
                o.response_excerpt,
                orjson.dumps(dict(o.request_headers)).decode(),
                o.next_attempt_at,
                o.replay_of,
            )
        )
        deliveries.append(
            (
                o.workspace_id,
                o.delivery_id,
                o.destination_id,
                o.event_id,
                o.event_type,
                o.event_created_at,
                DeliveryStatus.of_outcome(o.status).value,
                o.id,
                o.status,
                o.attempted_at,
                o.attempt,
                o.http_status,
                o.next_attempt_at,
                o.replay_of,
                now_ms,
                now_ms,
            )
        )
    await conn.executemany(_PUT_ATTEMPT, attempts)
    await rollup.add_attempts(conn, _by_workspace(new), CHUNK)  # endpoint health, same commit
    await conn.executemany(
        "UPDATE log_heads SET seq = ?, hash = ?, updated_at = ? WHERE workspace_id = ?",
        [(h.seq, h.hash, now_ms, h.workspace_id) for h in moved.values()],
    )
    await conn.executemany(_ATTEMPTED_DELIVERY, deliveries)
    return len(new), len(outcomes) - len(new), tuple(moved.values())


async def apply_records(
    conn: Connection,
    deliveries: Sequence[Delivery],
    outcomes: Sequence[Outcome],
    now_ms: int,
    lock_clause: str,
    erasures: Sequence[PayloadErasure] = (),
) -> ApplyResult:
    if erasures:
        # Every head this batch extends, taken at once in one order (no deadlock between
        # replicas); taking some of them again below is a no-op.
        chains = {o.workspace_id for o in outcomes} | {e.workspace_id for e in erasures}
        await lock_heads(conn, sorted(chains), lock_clause, now_ms)
    new_deliveries, duplicate_deliveries = await put_deliveries(conn, unique(deliveries), now_ms)
    new_attempts, duplicate_attempts, heads = await append_outcomes(
        conn, unique(outcomes), now_ms, lock_clause
    )
    new_erasures = duplicate_erasures = 0
    if erasures:  # after the deliveries: a body in this very batch is dropped too
        held = await lock_heads(  # the heads as the outcomes above left them
            conn, sorted({e.workspace_id for e in erasures}), lock_clause, now_ms
        )
        new_erasures, duplicate_erasures, moved = await apply_erasures(conn, erasures, held, now_ms)
        await conn.executemany(
            "UPDATE log_heads SET seq = ?, hash = ?, updated_at = ? WHERE workspace_id = ?",
            [(h.seq, h.hash, now_ms, h.workspace_id) for h in moved.values()],
        )
        heads = (*(h for h in heads if h.workspace_id not in moved), *moved.values())
    return ApplyResult(
        new_deliveries=new_deliveries,
        new_attempts=new_attempts,
        new_erasures=new_erasures,
        duplicates=duplicate_deliveries + duplicate_attempts + duplicate_erasures,
        heads=heads,
    )


def _scope(workspace_id: str | None, excluding: Collection[str]) -> tuple[str, list[str]]:
    """The ``AND …`` restricting a purge to one workspace, or to all but some."""
    if workspace_id is not None:
        return " AND workspace_id = ?", [workspace_id]
    if excluding:
        return f" AND workspace_id NOT IN {in_list(len(excluding))}", sorted(excluding)
    return "", []


async def purge_before(
    conn: Connection,
    before_ms: int,
    max_rows: int,
    *,
    workspace_id: str | None = None,
    excluding: Collection[str] = (),
) -> PurgeResult:
    """Delete a prefix of each chain (through its newest entry logged before ``before_ms``)
    and deliveries untouched since then, and the endpoint-health buckets that ended before
    it; at most about ``max_rows`` of each.

    A chain's entries are its attempts and its notes (erasures), numbered as one sequence.
    """
    scope, scoped = _scope(workspace_id, excluding)
    cuts = await conn.fetch(
        "SELECT workspace_id, MIN(seq) AS low, MAX(seq) AS cut FROM ("
        f"SELECT workspace_id, seq FROM log_attempts WHERE logged_at < ?{scope} UNION ALL "
        f"SELECT workspace_id, seq FROM log_chain_notes WHERE logged_at < ?{scope}"
        ") AS old GROUP BY workspace_id ORDER BY workspace_id",
        before_ms,
        *scoped,
        before_ms,
        *scoped,
    )
    attempts = notes = 0
    for row in cuts:
        budget = max_rows - attempts - notes
        if budget <= 0:
            break
        bound = min(row["cut"], row["low"] + budget - 1)
        attempts += await conn.execute(
            "DELETE FROM log_attempts WHERE workspace_id = ? AND seq <= ?",
            row["workspace_id"],
            bound,
        )
        notes += await conn.execute(
            "DELETE FROM log_chain_notes WHERE workspace_id = ? AND seq <= ?",
            row["workspace_id"],
            bound,
        )
    deliveries = await conn.execute(
        "DELETE FROM log_deliveries WHERE (workspace_id, id) IN "
        f"(SELECT workspace_id, id FROM log_deliveries WHERE updated_at < ?{scope} LIMIT ?)",
        before_ms,
        *scoped,
        max_rows,
    )
    buckets = await rollup.purge_buckets(conn, before_ms, max_rows, scope, scoped)
    return PurgeResult(attempts=attempts, deliveries=deliveries, notes=notes, buckets=buckets)
