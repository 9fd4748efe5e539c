"""A workspace's own retention and payload erasure in the log store, the same suite on
SQLite and PostgreSQL: what is purged and what stays, the erasure's chain entry, bodies
refused after an erasure, and the chain verifying across both."""

from __future__ import annotations

import dataclasses

import orjson
import pytest
from prometheus_client import CollectorRegistry
from signet_sdk.ids import new_id

from services.portal.delivery_log.metrics import LogMetrics
from services.portal.delivery_log.retention import RetentionTask, own_log_retention
from services.portal.delivery_log.sql_store import SqlLogStore
from services.portal.delivery_log.store import ProjectionBatch
from signet.records.model import OutcomeStatus, PayloadErasure, WorkspaceConfig
from signet.security.hash_chain import rfc3339, verify_export
from tests.services.portal.delivery_log.records import delivery, outcome
from tests.services.portal.delivery_log.store_calls import NOW, SIGNER, export, put

pytestmark = pytest.mark.timeout(60)

DAY = 86_400_000


def erasure(workspace_id: str, event_id: str) -> PayloadErasure:
    return PayloadErasure(new_id("era"), workspace_id, event_id, NOW, "ses_1")


async def erase(store: SqlLogStore, *erasures: PayloadErasure, now: int = NOW) -> int:
    result = await store.apply(ProjectionBatch(erasures=erasures), now_ms=now)
    return result.new_erasures


# -- a workspace's own retention ---------------------------------------------------------


async def test_a_workspaces_own_retention_purges_only_its_rows(store: SqlLogStore) -> None:
    short, default, long = new_id("ws"), new_id("ws"), new_id("ws")
    older = {ws: delivery(ws, "dst_a") for ws in (default, long)}
    for one in older.values():  # forty days old: past 30, not past 90
        await put(store, [one], [outcome(one)], now=NOW - 40 * DAY)
    aged = {ws: [delivery(ws, "dst_a") for _ in range(2)] for ws in (short, default, long)}
    for two in aged.values():  # ten days old: past 7, not past the default 30
        await put(store, two, [outcome(d) for d in two], now=NOW - 10 * DAY)
    metrics = LogMetrics.create(CollectorRegistry())
    task = RetentionTask(
        store,
        metrics,
        retention_days=30,
        interval_seconds=3600,
        own_retention=lambda: {short: 7, long: 90},
        clock=lambda: NOW,
    )

    purged = await task.purge_once()

    assert (purged.attempts, purged.deliveries) == (3, 3)
    for sent in aged[short]:
        assert await store.get_delivery(short, sent.id) is None  # its own 7 days
    for sent in aged[default] + aged[long]:
        assert await store.get_delivery(sent.workspace_id, sent.id) is not None
    assert await store.get_delivery(default, older[default].id) is None  # the global 30
    assert await store.get_delivery(long, older[long].id) is not None  # its own 90
    for ws in (short, default, long):
        result = verify_export(await export(store, ws), SIGNER.public_key)
        assert result.ok, result.describe()


def test_own_retention_is_read_from_the_config_view() -> None:
    class View:
        def workspaces(self) -> list[WorkspaceConfig]:
            return [
                WorkspaceConfig("ws_a", 2, "A", "production", 1, 1, log_retention_days=7),
                WorkspaceConfig("ws_b", 1, "B", "production", 1, 1),
            ]

    assert own_log_retention(View()) == {"ws_a": 7}


# -- erasure -----------------------------------------------------------------------------


async def test_an_erasure_drops_the_body_and_chains_an_entry(store: SqlLogStore) -> None:
    ws = new_id("ws")
    sent = delivery(ws, "dst_a")
    other = delivery(ws, "dst_b", event_id=sent.event_id)  # the same event, elsewhere
    kept = delivery(ws, "dst_a")
    await put(store, [sent, other, kept], [outcome(sent), outcome(other), outcome(kept)])

    assert await erase(store, erasure(ws, sent.event_id), now=NOW + 5) == 1

    event = await store.get_event(ws, sent.event_id)
    assert event is not None and event.body is None and event.payload_erased_at == NOW + 5
    for d in (sent, other):
        record = await store.get_delivery(ws, d.id)
        assert record is not None and record.body is None and record.payload_erased_at == NOW + 5
        assert len(await store.attempts(ws, d.id)) == 1  # the attempts stay
    untouched = await store.get_delivery(ws, kept.id)
    assert untouched is not None and untouched.body == kept.body
    assert untouched.payload_erased_at is None

    lines = (await export(store, ws)).decode().splitlines()
    result = verify_export("\n".join(lines) + "\n", SIGNER.public_key)
    assert result.ok and (result.entries, result.head_seq) == (4, 4), result.describe()
    assert result.erasures == 1 and "(1 payload erasure)" in result.describe()
    entry = orjson.loads(lines[3])
    assert {k: entry[k] for k in ("kind", "workspace_id", "event_id", "erased_at", "seq")} == {
        "kind": "erasure",
        "workspace_id": ws,
        "event_id": sent.event_id,
        "erased_at": rfc3339(NOW + 5),
        "seq": 4,
    }
    assert set(entry) == {"kind", "workspace_id", "event_id", "erased_at", "seq"} | {
        "prev_hash",
        "hash",
    }
    # The erasure entry is covered by the chain like any other: alter it and it fails.
    lines[3] = lines[3].replace(rfc3339(NOW + 5) or "", rfc3339(NOW + 6) or "")
    tampered = verify_export("\n".join(lines) + "\n", SIGNER.public_key)
    assert not tampered.ok and tampered.line == 4 and tampered.seq == 4, tampered.describe()


async def test_erasing_twice_changes_nothing(store: SqlLogStore) -> None:
    ws = new_id("ws")
    sent = delivery(ws, "dst_a")
    await put(store, [sent], [outcome(sent)])
    assert await erase(store, erasure(ws, sent.event_id), now=NOW + 1) == 1
    head = await store.log_head(ws)
    # Again, and twice in one batch: no second entry, the first time stays.
    assert await erase(store, erasure(ws, sent.event_id), erasure(ws, sent.event_id)) == 0
    assert await store.log_head(ws) == head
    event = await store.get_event(ws, sent.event_id)
    assert event is not None and event.payload_erased_at == NOW + 1


async def test_a_copy_read_after_the_erasure_stays_without_its_body(store: SqlLogStore) -> None:
    ws = new_id("ws")
    sent = delivery(ws, "dst_a")
    await put(store, [], [outcome(sent, OutcomeStatus.FAILED)])  # the attempt before the body
    await erase(store, erasure(ws, sent.event_id))
    # The delivery record itself, read late; a retry of it; a new delivery of the event
    # (the router redoing its work after a crash); and all three again in one batch.
    retried = dataclasses.replace(sent, attempt=2)
    again = delivery(ws, "dst_c", event_id=sent.event_id)
    await put(store, [sent])
    await put(store, [retried, again], [outcome(again)])
    await put(store, [sent, again])
    for delivery_id in (sent.id, again.id):
        record = await store.get_delivery(ws, delivery_id)
        assert record is not None and record.body is None, delivery_id
        assert record.payload_erased_at is not None
    event = await store.get_event(ws, sent.event_id)
    assert event is not None and event.body is None
    failed = await store.failed_deliveries(ws, "dst_a", 0, None, 10)
    assert [(r.id, r.body, r.payload_erased_at is not None) for r in failed] == [
        (sent.id, None, True)
    ]


async def test_an_erasure_in_the_same_batch_as_the_body_wins(store: SqlLogStore) -> None:
    ws = new_id("ws")
    sent = delivery(ws, "dst_a")
    batch = ProjectionBatch([sent], [outcome(sent)], [erasure(ws, sent.event_id)])
    result = await store.apply(batch, now_ms=NOW)
    assert (result.new_deliveries, result.new_attempts, result.new_erasures) == (1, 1, 1)
    record = await store.get_delivery(ws, sent.id)
    assert record is not None and record.body is None
    assert (await store.log_head(ws)).seq == 2
    assert verify_export(await export(store, ws), SIGNER.public_key).ok


async def test_retention_trims_erasure_entries_with_the_chain_but_keeps_refusing(
    store: SqlLogStore,
) -> None:
    ws = new_id("ws")
    old = delivery(ws, "dst_a")
    await put(store, [old], [outcome(old)], now=NOW - 40 * DAY)
    await erase(store, erasure(ws, old.event_id), now=NOW - 39 * DAY)
    recent = delivery(ws, "dst_a")
    await put(store, [recent], [outcome(recent)], now=NOW)

    purged = await store.purge(NOW - 30 * DAY)
    assert (purged.attempts, purged.notes, purged.deliveries) == (1, 1, 1)
    result = verify_export(await export(store, ws), SIGNER.public_key)
    assert result.ok and (result.entries, result.head_seq) == (1, 3), result.describe()
    # The erased event's body still cannot come back, long after its entry is gone.
    await put(store, [old])
    record = await store.get_delivery(ws, old.id)
    assert record is not None and record.body is None and record.payload_erased_at is not None
