"""The log store's hash chain, the same suite on SQLite and PostgreSQL: the export
verifies and names a tampered entry, concurrent writers keep one linear chain, retention
trims a prefix (by hand and in the periodic task) and the rest still verifies, an empty
log exports a signed genesis head.
"""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry
from signet_sdk.ids import new_id

from services.portal.delivery_log.metrics import LogMetrics
from services.portal.delivery_log.retention import RetentionTask
from services.portal.delivery_log.sql_store import SqlLogStore
from signet.records.model import OutcomeStatus
from signet.security.hash_chain import verify_export
from tests.eventually import eventually
from tests.services.portal.delivery_log.records import delivery, outcome
from tests.services.portal.delivery_log.store_calls import NOW, SIGNER, export, put, second_store

pytestmark = pytest.mark.timeout(60)


async def test_the_export_verifies_and_names_a_tampered_entry(store: SqlLogStore) -> None:
    ws = new_id("ws")
    sent = [delivery(ws, "dst_a") for _ in range(4)]
    await put(store, sent, [outcome(d) for d in sent])
    await put(store, outcomes=[outcome(sent[0], OutcomeStatus.FAILED, attempt=2, error="a\x00b")])
    data = await export(store, ws)
    result = verify_export(data, SIGNER.public_key)
    assert result.ok, result.describe()
    assert (result.entries, result.head_seq) == (5, 5)

    lines = data.splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"http_status":200', b'"http_status":201')
    broken = verify_export(b"".join(lines), SIGNER.public_key)
    assert not broken.ok and (broken.line, broken.seq) == (3, 3)


async def test_concurrent_writers_keep_one_linear_chain(store: SqlLogStore) -> None:
    """Two replicas applying overlapping batches (a rebalance): no fork, no double entry."""
    ws = new_id("ws")
    sent = [delivery(ws, "dst_a") for _ in range(30)]
    outcomes = [outcome(d) for d in sent]
    other = await second_store(store)
    try:
        await asyncio.gather(
            *(put(store, sent[i : i + 5], outcomes[i : i + 5]) for i in range(0, 30, 5)),
            *(put(other, sent[i : i + 10], outcomes[i : i + 10]) for i in range(0, 30, 10)),
        )
    finally:
        await other.stop()
    head = await store.log_head(ws)
    assert head.seq == 30
    assert verify_export(await export(store, ws), SIGNER.public_key).ok


async def test_retention_trims_a_prefix_and_the_rest_still_verifies(store: SqlLogStore) -> None:
    ws = new_id("ws")
    old = [delivery(ws, "dst_a") for _ in range(3)]
    recent = [delivery(ws, "dst_a") for _ in range(2)]
    await put(store, old, [outcome(d) for d in old], now=NOW - 40 * 86_400_000)
    await put(store, recent, [outcome(d) for d in recent], now=NOW)
    full = await export(store, ws)
    head = await store.log_head(ws)

    purged = await store.purge(NOW - 30 * 86_400_000, max_rows=2)
    assert (purged.attempts, purged.deliveries) == (2, 2)
    purged = await store.purge(NOW - 30 * 86_400_000)
    assert (purged.attempts, purged.deliveries) == (1, 1)
    assert await store.purge(NOW - 30 * 86_400_000) == type(purged)()

    assert await store.log_head(ws) == head  # the head stays
    assert await store.get_delivery(ws, old[0].id) is None
    assert await store.get_delivery(ws, recent[0].id) is not None
    trimmed = await export(store, ws)
    result = verify_export(trimmed, SIGNER.public_key)
    assert result.ok and result.entries == 2 and result.head_seq == 5, result.describe()
    assert verify_export(full, SIGNER.public_key).ok  # an earlier export still verifies

    await put(store, [recent[0]], [outcome(recent[0], OutcomeStatus.FAILED, attempt=2)])
    assert (await store.log_head(ws)).seq == 6  # the chain goes on after the trim
    assert verify_export(await export(store, ws), SIGNER.public_key).ok


async def test_the_retention_task_trims_periodically(store: SqlLogStore) -> None:
    ws = new_id("ws")
    old = [delivery(ws, "dst_a") for _ in range(3)]
    await put(store, old, [outcome(d) for d in old], now=NOW - 31 * 86_400_000)
    await put(store, [old[0]], [outcome(old[0], OutcomeStatus.FAILED, attempt=2)], now=NOW)
    registry = CollectorRegistry()
    metrics = LogMetrics.create(registry)
    task = RetentionTask(
        store, metrics, retention_days=30, interval_seconds=3600, clock=lambda: NOW
    )
    await task.start()
    await task.start()  # idempotent
    try:

        async def trimmed() -> bool:
            return len(await store.attempts(ws, old[0].id)) == 1

        await eventually(trimmed, "the retention task's first trim", timeout=20)
    finally:
        await task.stop()
        await task.stop()
    assert await store.get_delivery(ws, old[1].id) is None  # idle since the cut-off
    assert await store.get_delivery(ws, old[0].id) is not None  # touched since
    purged = registry.get_sample_value("signet_portal_log_purged_rows_total", {"table": "attempts"})
    assert purged == 3
    result = verify_export(await export(store, ws), SIGNER.public_key)
    assert result.ok and (result.entries, result.head_seq) == (1, 4), result.describe()


async def test_an_empty_log_exports_a_signed_genesis_head(store: SqlLogStore) -> None:
    ws = new_id("ws")
    result = verify_export(await export(store, ws), SIGNER.public_key)
    assert result.ok and result.entries == 0 and result.head_seq == 0
