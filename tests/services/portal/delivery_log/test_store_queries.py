"""The log store's queries, the same suite on SQLite and PostgreSQL: filters, cursor
pagination without gaps or duplicates, workspaces apart, failed deliveries for recovery,
and waiting for the next outcome (another replica's write found by polling).
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from signet_sdk.ids import new_id

from services.portal.delivery_log.errors import InvalidCursor
from services.portal.delivery_log.sql_store import SqlLogStore
from services.portal.delivery_log.store import DeliveryFilter, DeliveryStatus
from signet.records.model import OutcomeStatus
from tests.services.portal.delivery_log.records import delivery, outcome, tick
from tests.services.portal.delivery_log.store_calls import all_pages, put, second_store

pytestmark = pytest.mark.timeout(60)


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
    other = await second_store(store)
    try:
        waiting = asyncio.create_task(
            store.wait_for_outcome(ws, sent.id, after_attempt_id=None, timeout=20)
        )
        await put(other, [sent], [outcome(sent)])
        got = await waiting
        assert got is not None and got.delivery_id == sent.id
    finally:
        await other.stop()
