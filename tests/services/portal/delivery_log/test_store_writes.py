"""The log store's projection writes, the same suite on SQLite and PostgreSQL: a
delivery and its attempts, an event gathering its deliveries' attempts, records read out
of order, and replaying the same records changing nothing.
"""

from __future__ import annotations

import pytest
from signet_sdk.ids import new_id

from services.portal.delivery_log import sql_store
from services.portal.delivery_log.sql_store import SqlLogStore
from services.portal.delivery_log.store import DeliveryFilter, DeliveryStatus, ProjectionBatch
from signet.records.model import OutcomeStatus
from signet.security.hash_chain import ChainHead
from tests.services.portal.delivery_log.records import delivery, outcome
from tests.services.portal.delivery_log.store_calls import NOW, put

pytestmark = pytest.mark.timeout(60)


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
