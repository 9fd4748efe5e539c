"""The log store, the same suite on SQLite and PostgreSQL: projection writes, idempotence,
filters, cursor pagination, events, waiting for an outcome, the chain, retention."""

from __future__ import annotations

import asyncio
import dataclasses
from contextlib import aclosing

import pytest
from prometheus_client import CollectorRegistry
from signet_sdk.ids import new_id

from services.portal.delivery_log import sql_store
from services.portal.delivery_log.errors import InvalidCursor
from services.portal.delivery_log.export import export_lines
from services.portal.delivery_log.metrics import LogMetrics
from services.portal.delivery_log.postgres_store import postgres_store
from services.portal.delivery_log.retention import RetentionTask
from services.portal.delivery_log.sql_store import SqlLogStore
from services.portal.delivery_log.sqlite_store import sqlite_store
from services.portal.delivery_log.store import (
    DeliveryFilter,
    DeliveryStatus,
    DeliverySummary,
    ProjectionBatch,
)
from signet.records.model import Delivery, Outcome, OutcomeStatus
from signet.security.chain_key import LogSigner
from signet.security.hash_chain import ChainHead, verify_export
from tests.eventually import eventually
from tests.services.portal.delivery_log.records import delivery, outcome, tick

pytestmark = pytest.mark.timeout(60)

NOW = 1_760_500_000_000
SIGNER = LogSigner.derive(b"\x07" * 32)


async def put(
    store: SqlLogStore,
    deliveries: list[Delivery] | None = None,
    outcomes: list[Outcome] | None = None,
    now: int = NOW,
) -> None:
    await store.apply(ProjectionBatch(deliveries or [], outcomes or []), now_ms=now)


async def export(store: SqlLogStore, workspace_id: str) -> bytes:
    async with aclosing(export_lines(store, workspace_id, SIGNER, exported_at=NOW)) as lines:
        return b"".join([line async for line in lines])


async def all_pages(
    store: SqlLogStore, workspace_id: str, filters: DeliveryFilter, limit: int
) -> list[list[DeliverySummary]]:
    pages, cursor = [], None
    while True:
        page = await store.list_deliveries(workspace_id, filters, cursor, limit)
        pages.append(list(page.items))
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


async def test_a_delivery_and_its_attempts(store: SqlLogStore) -> None:
    ws = new_id("ws")
    sent = delivery(ws, "dst_a")
    first = outcome(sent, OutcomeStatus.FAILED, attempt=1)
    second = outcome(sent, OutcomeStatus.DELIVERED, attempt=2)
    await put(store, [sent])
    pending = await store.get_delivery(ws, sent.id)
    assert pending is not None and pending.status is DeliveryStatus.PENDING
    assert pending.body == sent.body and pending.attempts == 0
    await put(store, outcomes=[first, second])

    found = await store.get_delivery(ws, sent.id)
    assert found is not None
    assert found.status is DeliveryStatus.DELIVERED
    assert (found.attempts, found.last_attempt_id, found.last_http_status) == (2, second.id, 200)
    attempts = await store.attempts(ws, sent.id)
    assert [a.id for a in attempts] == [first.id, second.id]
    assert [a.seq for a in attempts] == [1, 2]
    assert attempts[0].request_headers == first.request_headers
    assert attempts[0].latency_ms == first.latency_ms and attempts[0].error == "HTTP 503"
    assert attempts[1].prev_hash == attempts[0].hash

    event = await store.get_event(ws, sent.event_id)
    assert event is not None and event.body == sent.body
    assert [h.delivery.id for h in event.deliveries] == [sent.id]
    assert [a.id for a in event.deliveries[0].attempts] == [first.id, second.id]


async def test_an_event_gathers_the_attempts_of_each_of_its_deliveries(
    store: SqlLogStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_store, "ID_CHUNK", 2)  # three deliveries: two lookups
    ws = new_id("ws")
    event_id = new_id("evt")
    sent = [delivery(ws, f"dst_{n}", event_id=event_id, created_at=NOW) for n in "abc"]
    other = delivery(ws, "dst_a")  # another event of the workspace
    a1, b1 = (outcome(d, OutcomeStatus.FAILED, attempt=1) for d in sent[:2])
    a2 = outcome(sent[0], OutcomeStatus.DELIVERED, attempt=2)
    await put(store, [*sent, other], [a1, b1, outcome(other), a2])

    event = await store.get_event(ws, event_id)
    assert event is not None
    attempts = {h.delivery.id: [a.id for a in h.attempts] for h in event.deliveries}
    assert attempts == {sent[0].id: [a1.id, a2.id], sent[1].id: [b1.id], sent[2].id: []}


async def test_an_outcome_before_its_delivery_record(store: SqlLogStore) -> None:
    ws = new_id("ws")
    sent = delivery(ws, "dst_a")
    await put(store, outcomes=[outcome(sent, OutcomeStatus.EXHAUSTED, attempt=3)])
    early = await store.get_delivery(ws, sent.id)
    assert early is not None and early.body is None
    assert early.status is DeliveryStatus.EXHAUSTED
    await put(store, [sent])
    late = await store.get_delivery(ws, sent.id)
    assert late is not None and late.body == sent.body
    assert late.status is DeliveryStatus.EXHAUSTED and late.attempts == 1


async def test_the_newest_attempt_decides_even_when_read_out_of_order(store: SqlLogStore) -> None:
    ws = new_id("ws")
    sent = delivery(ws, "dst_a")
    older = outcome(sent, OutcomeStatus.FAILED, attempt=1, attempted_at=NOW - 10_000)
    newer = outcome(sent, OutcomeStatus.DELIVERED, attempt=2, attempted_at=NOW)
    await put(store, [sent], [newer])
    await put(store, outcomes=[older])
    found = await store.get_delivery(ws, sent.id)
    assert found is not None
    assert (found.status, found.attempts, found.last_attempt_id) == (
        DeliveryStatus.DELIVERED,
        2,
        newer.id,
    )


async def test_replaying_the_same_records_changes_nothing(store: SqlLogStore) -> None:
    ws = new_id("ws")
    sent = [delivery(ws, "dst_a") for _ in range(3)]
    outcomes = [outcome(d, OutcomeStatus.FAILED) for d in sent]
    first = await store.apply(ProjectionBatch(sent, outcomes), now_ms=NOW)
    assert (first.new_deliveries, first.new_attempts, first.duplicates) == (3, 3, 0)
    before = await store.list_deliveries(ws, DeliveryFilter(), None, 10)
    head = await store.log_head(ws)

    again = await store.apply(ProjectionBatch(sent + sent, outcomes + outcomes), now_ms=NOW + 1)
    assert (again.new_deliveries, again.new_attempts, again.duplicates) == (0, 0, 6)
    assert await store.log_head(ws) == head == ChainHead(ws, 3, head.hash)
    assert await store.list_deliveries(ws, DeliveryFilter(), None, 10) == before


async def test_filters(store: SqlLogStore) -> None:
    ws = new_id("ws")
    base = tick()
    made = {
        "a_ok": delivery(ws, "dst_a", event_type="order.completed", created_at=base + 1),
        "a_bad": delivery(ws, "dst_a", event_type="order.refunded", created_at=base + 2),
        "b_ok": delivery(ws, "dst_b", event_type="invoice.paid", created_at=base + 3),
        "b_pending": delivery(ws, "dst_b", event_type="order_x.completed", created_at=base + 4),
    }
    await put(
        store,
        list(made.values()),
        [
            outcome(made["a_ok"]),
            outcome(made["a_bad"], OutcomeStatus.EXHAUSTED),
            outcome(made["b_ok"]),
        ],
    )

    async def ids(**filters: object) -> set[str]:
        page = await store.list_deliveries(ws, DeliveryFilter(**filters), None, 100)  # type: ignore[arg-type]
        return {d.id for d in page.items}

    def named(*names: str) -> set[str]:
        return {made[n].id for n in names}

    assert await ids() == named("a_ok", "a_bad", "b_ok", "b_pending")
    assert await ids(destination_id="dst_a") == named("a_ok", "a_bad")
    assert await ids(status=DeliveryStatus.DELIVERED) == named("a_ok", "b_ok")
    assert await ids(status=DeliveryStatus.PENDING) == named("b_pending")
    assert await ids(status=DeliveryStatus.EXHAUSTED) == named("a_bad")
    assert await ids(event_type="order.completed") == named("a_ok")
    assert await ids(event_type="order.*") == named("a_ok", "a_bad")  # not order_x.*
    assert await ids(event_type="ORDER.*") == set()  # case matters
    assert await ids(since=base + 2, until=base + 4) == named("a_bad", "b_ok")
    assert await ids(destination_id="dst_b", status=DeliveryStatus.DELIVERED) == named("b_ok")
    assert await ids(destination_id="dst_nope") == set()


async def test_cursor_pages_have_no_gaps_or_duplicates(store: SqlLogStore) -> None:
    ws = new_id("ws")
    same_time = tick()
    # Several deliveries share a creation time: the id breaks the tie, stably.
    made = [delivery(ws, "dst_a", created_at=same_time if i % 3 else tick()) for i in range(23)]
    await put(store, made)
    pages = await all_pages(store, ws, DeliveryFilter(), 5)
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    listed = [d for page in pages for d in page]
    assert len({d.id for d in listed}) == 23 and {d.id for d in listed} == {d.id for d in made}
    keys = [(d.event_created_at, d.id) for d in listed]
    assert keys == sorted(keys, reverse=True)

    # Newer deliveries arriving between pages do not shift the pages being read.
    first = await store.list_deliveries(ws, DeliveryFilter(), None, 5)
    await put(store, [delivery(ws, "dst_a") for _ in range(4)])
    assert first.next_cursor is not None
    second = await store.list_deliveries(ws, DeliveryFilter(), first.next_cursor, 5)
    assert [d.id for d in second.items] == [d.id for d in pages[1]]


async def test_a_cursor_it_did_not_issue_is_refused(store: SqlLogStore) -> None:
    for cursor in ("garbage!", "WzEsMl0", "bm90IGpzb24", "WyJ4IiwxXQ"):
        with pytest.raises(InvalidCursor):
            await store.list_deliveries("ws_x", DeliveryFilter(), cursor, 5)


async def test_workspaces_never_see_each_other(store: SqlLogStore) -> None:
    mine, theirs = new_id("ws"), new_id("ws")
    sent = delivery(mine, "dst_a")
    # A record naming the same delivery id in another workspace stays in its own row.
    forged = dataclasses.replace(sent, workspace_id=theirs, body=b'{"forged":true}')
    await put(store, [sent, forged], [outcome(sent)])
    assert (await store.get_delivery(theirs, sent.id)).body == b'{"forged":true}'  # type: ignore[union-attr]
    assert (await store.get_delivery(mine, sent.id)).body == sent.body  # type: ignore[union-attr]
    assert await store.attempts(theirs, sent.id) == []
    event = await store.get_event(theirs, sent.event_id)
    assert event is not None and event.body == b'{"forged":true}'
    assert event.deliveries[0].attempts == ()
    assert await store.get_event(new_id("ws"), sent.event_id) is None
    assert (await store.log_head(theirs)).seq == 0


async def test_failed_deliveries_for_recovery(store: SqlLogStore) -> None:
    ws = new_id("ws")
    base = tick()
    failed = delivery(ws, "dst_a", created_at=base + 1)
    exhausted = delivery(ws, "dst_a", created_at=base + 2)
    recovered = delivery(ws, "dst_a", created_at=base + 3)
    elsewhere = delivery(ws, "dst_b", created_at=base + 4)
    late = delivery(ws, "dst_a", created_at=base + 50)
    await put(
        store,
        [failed, exhausted, recovered, elsewhere, late],
        [
            outcome(failed, OutcomeStatus.FAILED),
            outcome(exhausted, OutcomeStatus.EXHAUSTED),
            outcome(recovered, OutcomeStatus.FAILED, attempt=1),
            outcome(recovered, OutcomeStatus.DELIVERED, attempt=2),
            outcome(elsewhere, OutcomeStatus.FAILED),
            outcome(late, OutcomeStatus.FAILED),
        ],
    )
    found = await store.failed_deliveries(ws, "dst_a", base, base + 10, 100)
    assert [d.id for d in found] == [failed.id, exhausted.id]
    assert [d.body for d in found] == [failed.body, exhausted.body]
    assert [d.id for d in await store.failed_deliveries(ws, "dst_a", base, None, 100)] == [
        failed.id,
        exhausted.id,
        late.id,
    ]
    assert len(await store.failed_deliveries(ws, "dst_a", base, None, 1)) == 1
    assert await store.failed_deliveries(new_id("ws"), "dst_a", base, None, 100) == []


async def test_waiting_for_the_next_outcome(store: SqlLogStore) -> None:
    ws = new_id("ws")
    sent = delivery(ws, "dst_a")
    await put(store, [sent])
    assert await store.wait_for_outcome(ws, sent.id, after_attempt_id=None, timeout=0.2) is None

    first = outcome(sent, OutcomeStatus.FAILED)
    waiting = asyncio.create_task(
        store.wait_for_outcome(ws, sent.id, after_attempt_id=None, timeout=20)
    )
    await asyncio.sleep(0)  # the waiter starts waiting before the outcome is written
    await put(store, outcomes=[first])
    got = await waiting
    assert got is not None and got.id == first.id

    second = outcome(sent, OutcomeStatus.DELIVERED, attempt=2)
    waiting = asyncio.create_task(
        store.wait_for_outcome(ws, sent.id, after_attempt_id=first.id, timeout=20)
    )
    await put(store, outcomes=[second])
    got = await waiting
    assert got is not None and got.id == second.id
    assert (
        await store.wait_for_outcome(ws, sent.id, after_attempt_id=second.id, timeout=0.1) is None
    )


async def test_another_replicas_write_is_found_by_polling(store: SqlLogStore) -> None:
    """A second store on the same database stands for another portal replica."""
    ws = new_id("ws")
    sent = delivery(ws, "dst_a")
    other = await _second_store(store)
    try:
        waiting = asyncio.create_task(
            store.wait_for_outcome(ws, sent.id, after_attempt_id=None, timeout=20)
        )
        await put(other, [sent], [outcome(sent)])
        got = await waiting
        assert got is not None and got.delivery_id == sent.id
    finally:
        await other.stop()


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
    other = await _second_store(store)
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


async def test_start_and_stop_are_idempotent(store: SqlLogStore) -> None:
    await store.start()
    other = await _second_store(store)
    await other.stop()
    await other.stop()


async def _second_store(store: SqlLogStore) -> SqlLogStore:
    database = store.database
    if database.dialect.value == "sqlite":
        other = sqlite_store("sqlite:///" + str(database._path))  # type: ignore[attr-defined]
    else:
        dsn, schema = database._dsn, database._schema  # type: ignore[attr-defined]
        other = postgres_store(f"{dsn}?schema={schema}", pool_size=4)
    await other.start()
    return other


async def test_an_index_the_log_no_longer_keeps_is_dropped_at_start(store: SqlLogStore) -> None:
    old = "log_attempts_by_event"  # found an event's attempts until 2026-11-27
    async with store.database.write() as conn:
        await conn.execute(f"CREATE INDEX {old} ON log_attempts (workspace_id, event_id)")
    assert old in await _index_names(store)
    other = await _second_store(store)  # starting runs the DDL, as an upgraded portal would
    await other.stop()
    assert old not in await _index_names(store)
    assert "log_attempts_by_delivery" in await _index_names(store)


async def _index_names(store: SqlLogStore) -> set[str]:
    if store.database.dialect.value == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index'"
    else:
        query = "SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema()"
    async with store.database.read() as conn:
        return {row["name"] for row in await conn.fetch(query)}
