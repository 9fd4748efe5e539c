"""Erasing an event's payload from the log, inside the projection's transaction.

An erasure (``PayloadErasure``, from ``signet.payload-erasures``) drops the body of every
delivery of one event, remembers the event in ``log_erasures`` so that a copy of the body
read later (a delivery record of the same event, re-read or produced after the erasure)
is stored without it, and appends an entry of its own kind to the workspace's chain:

    {"kind": "erasure", "workspace_id", "event_id", "erased_at", "seq"}

so an export shows that the log dropped something, and when. The entry is appended once:
an event already erased changes nothing (a re-read record, or a second request).
"""

# ruff: noqa: S608 - statements are assembled from constants; values are always bound.

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from services.portal.delivery_log.database import Connection, chunks
from signet.records.model import PayloadErasure
from signet.security.hash_chain import ERASURE_KIND, ChainHead, append, rfc3339

CHUNK = 200


def erasure_entry(workspace_id: str, event_id: str, erased_at: int) -> dict[str, Any]:
    """The chain entry of an erasure (``seq`` is added when it is appended)."""
    return {
        "kind": ERASURE_KIND,
        "workspace_id": workspace_id,
        "event_id": event_id,
        "erased_at": rfc3339(erased_at),
    }


async def erased_events(
    conn: Connection, events: Iterable[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of these (workspace id, event id) pairs were erased: one indexed lookup per
    ``CHUNK`` pairs, whatever the number of workspaces among them."""
    pairs = list(dict.fromkeys(events))
    found: set[tuple[str, str]] = set()
    for chunk in chunks(pairs, CHUNK):
        rows = await conn.fetch(
            "SELECT workspace_id, event_id FROM log_erasures WHERE (workspace_id, event_id) IN ("
            + ", ".join(["(?, ?)"] * len(chunk))
            + ")",
            *(value for pair in chunk for value in pair),
        )
        found.update((row["workspace_id"], row["event_id"]) for row in rows)
    return found


async def apply_erasures(
    conn: Connection,
    erasures: Sequence[PayloadErasure],
    heads: dict[str, ChainHead],
    now_ms: int,
) -> tuple[int, int, dict[str, ChainHead]]:
    """Erase what is not erased yet, extending the chains whose ``heads`` this transaction
    holds (locked by the caller); (new, duplicates, heads moved)."""
    done = await erased_events(conn, ((e.workspace_id, e.event_id) for e in erasures))
    moved: dict[str, ChainHead] = {}
    new = 0
    for erasure in erasures:
        key = (erasure.workspace_id, erasure.event_id)
        if key in done:
            continue
        done.add(key)
        new += 1
        ws = erasure.workspace_id
        await conn.execute(
            "INSERT INTO log_erasures (workspace_id, event_id, erasure_id, erased_at) "
            "VALUES (?, ?, ?, ?)",
            ws,
            erasure.event_id,
            erasure.id,
            now_ms,
        )
        # updated_at stays: erasing does not make a delivery live longer under retention.
        await conn.execute(
            "UPDATE log_deliveries SET body = NULL WHERE workspace_id = ? AND event_id = ?",
            ws,
            erasure.event_id,
        )
        link, heads[ws] = append(heads[ws], erasure_entry(ws, erasure.event_id, now_ms))
        moved[ws] = heads[ws]
        await conn.execute(
            "INSERT INTO log_chain_notes (workspace_id, seq, prev_hash, hash, entry, logged_at, "
            "kind) VALUES (?, ?, ?, ?, ?, ?, ?)",
            ws,
            link.seq,
            link.prev_hash,
            link.hash,
            link.entry.decode(),
            now_ms,
            ERASURE_KIND,
        )
    return new, len(erasures) - new, moved
