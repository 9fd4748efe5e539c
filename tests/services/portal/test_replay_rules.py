"""Replay and recover, the pure parts: what a replay keeps, which deliveries a call takes,
and the test event's body."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from typing import Any

import orjson
import pytest
from signet_sdk.contract.fields import FieldErrors

from services.portal.delivery_log.store import DeliveryRecord, DeliveryStatus
from services.portal.ping import TEST_EVENT_TYPE, ping_delivery, ping_event
from services.portal.replay import (
    LOG_CATCH_UP_SECONDS,
    LogCatchUp,
    RecoverRequest,
    plan_recovery,
    replay_delivery,
)
from signet.api.reading import parse_model
from signet.records.model import Destination

NOW = 1_800_000_000_000


def record(
    did: str, at: int, *, event_id: str | None = None, body: bytes | None = b"{}"
) -> DeliveryRecord:
    return DeliveryRecord(
        id=did,
        workspace_id="ws_1",
        destination_id="dst_1",
        event_id=event_id or f"evt_{did}",
        event_type="order.completed",
        event_created_at=at,
        status=DeliveryStatus.FAILED,
        attempts=3,
        last_attempt_id="att_1",
        last_status="failed",
        last_attempt_at=at + 10,
        last_http_status=500,
        next_attempt_at=None,
        replay_of=None,
        first_seen_at=at,
        updated_at=at + 10,
        body=body,
    )


def test_a_replay_keeps_event_and_body_and_starts_afresh() -> None:
    original = record("dlv_orig", NOW - 86_400_000, body=b'{"id":"evt_x"}')
    replay = replay_delivery(original, b'{"id":"evt_x"}', now_ms=NOW)
    assert replay.id != original.id and replay.id.startswith("dlv_")
    assert replay.event_id == original.event_id  # the same webhook-id
    assert replay.body == b'{"id":"evt_x"}'
    assert (replay.attempt, replay.due_at, replay.first_attempt_at) == (1, NOW, None)
    assert replay.replay_of == "dlv_orig"
    assert replay.event_created_at == original.event_created_at
    assert (replay.workspace_id, replay.destination_id, replay.event_type) == (
        "ws_1",
        "dst_1",
        "order.completed",
    )


def test_recover_takes_everything_under_the_limit() -> None:
    records = [record(f"dlv_{i}", NOW + i) for i in range(3)]
    plan = plan_recovery(records, 5)
    assert [r.id for r in plan.replay] == ["dlv_0", "dlv_1", "dlv_2"]
    assert not plan.truncated and plan.next_since_ms is None


def test_a_cut_batch_leaves_the_boundary_millisecond_for_the_next_call() -> None:
    # limit 3, asked for 4: dlv_2 and dlv_3 share a millisecond, so dlv_2 waits too.
    records = [record("dlv_0", NOW), record("dlv_1", NOW + 1)]
    records += [record("dlv_2", NOW + 2), record("dlv_3", NOW + 2)]
    plan = plan_recovery(records, 3)
    assert [r.id for r in plan.replay] == ["dlv_0", "dlv_1"]
    assert plan.truncated and plan.next_since_ms == NOW + 2


def test_a_batch_within_one_millisecond_still_moves_on() -> None:
    records = [record(f"dlv_{i}", NOW) for i in range(3)]
    plan = plan_recovery(records, 2)
    assert [r.id for r in plan.replay] == ["dlv_0", "dlv_1"]
    assert plan.truncated and plan.next_since_ms == NOW + 1


def test_one_replay_per_event_and_none_without_a_body() -> None:
    records = [
        record("dlv_a", NOW, event_id="evt_1"),
        record("dlv_a_replay", NOW, event_id="evt_1"),
        record("dlv_b", NOW + 1, body=None),
    ]
    plan = plan_recovery(records, 10)
    assert [r.id for r in plan.replay] == ["dlv_a"]
    assert plan.without_body == 1


def test_erased_events_are_never_replayed_nor_counted_as_missing_bodies() -> None:
    erased = dataclasses.replace(record("dlv_e", NOW, body=None), payload_erased_at=NOW + 5)
    records = [record("dlv_a", NOW), erased, record("dlv_b", NOW + 1, body=None)]
    plan = plan_recovery(records, 10)
    assert [r.id for r in plan.replay] == ["dlv_a"]
    assert (plan.without_body, [r.id for r in plan.erased]) == (1, ["dlv_e"])


async def test_an_erased_body_is_not_waited_for() -> None:
    erased = dataclasses.replace(record("dlv_e", NOW, body=None), payload_erased_at=NOW)
    log = FakeLog(erased, arrives_at=None)
    await LogCatchUp().with_bodies(log.read, clock=log.clock, pause=log.pause)
    assert log.reads == 1 and log.slept == []


def read_recover(body: Any) -> RecoverRequest:
    return parse_model(RecoverRequest, orjson.dumps(body))


def test_recover_bodies() -> None:
    wanted = read_recover(
        {"since": "2026-04-17T18:22:00.123Z", "until": "2026-04-18T00:00:00+02:00"}
    )
    assert wanted.since_ms == 1_776_450_120_123  # exact to the millisecond
    assert wanted.until_ms == 1_776_463_200_000
    assert read_recover({"since": "2026-04-17T18:22:00Z"}).until_ms is None


@pytest.mark.parametrize(
    ("body", "field", "code", "words"),
    [
        ({}, "since", "required", "required"),
        ({"since": "yesterday"}, "since", "format", "RFC 3339"),
        ({"since": "2026-04-17T18:22:00"}, "since", "format", "offset"),
        ({"since": "1969-12-31T23:59:59Z"}, "since", "range", "1970"),
        ({"since": 1_776_450_120_123}, "since", "type", "string"),
        ({"since": "2026-04-17T18:22:00Z" + " " * 30}, "since", "length", "40"),
        (
            {"since": "2026-04-17T18:22:00Z", "until": "2026-04-17T18:00:00Z"},
            "until",
            "range",
            "later",
        ),
        ({"since": "2026-04-17T18:22:00Z", "limit": 5}, "limit", "unknown", "unknown field"),
        ([], "body", "type", "JSON object"),
    ],
)
def test_bad_recover_bodies_name_the_field(body: Any, field: str, code: str, words: str) -> None:
    with pytest.raises(FieldErrors) as caught:
        read_recover(body)
    errors = {e.field: (e.code.value, e.message) for e in caught.value.errors}
    assert errors[field][0] == code and words in errors[field][1], errors


# -- waiting for the log to record a body --------------------------------------------------


class FakeLog:
    """A log whose reads show the body from the ``arrives_at``-th read on, and a clock
    that only the waits move."""

    def __init__(self, record: DeliveryRecord, arrives_at: int | None) -> None:
        self.record, self.arrives_at = record, arrives_at
        self.reads = 0
        self.slept: list[float] = []

    async def read(self) -> list[DeliveryRecord]:
        self.reads += 1
        if self.arrives_at is not None and self.reads >= self.arrives_at:
            return [replace(self.record, body=b"{}")]
        return [self.record]

    async def pause(self, seconds: float) -> None:
        self.slept.append(seconds)

    def clock(self) -> int:
        return NOW + int(sum(self.slept) * 1000)


async def test_a_body_about_to_be_logged_is_waited_for() -> None:
    log = FakeLog(record("dlv_1", NOW, body=None), arrives_at=4)
    [found] = await LogCatchUp().with_bodies(log.read, clock=log.clock, pause=log.pause)
    assert found.body == b"{}" and log.reads == 4
    assert log.slept == sorted(log.slept)  # backing off between reads


async def test_the_wait_for_a_body_is_bounded() -> None:
    log = FakeLog(record("dlv_1", NOW, body=None), arrives_at=None)
    [found] = await LogCatchUp().with_bodies(log.read, clock=log.clock, pause=log.pause)
    assert found.body is None
    assert sum(log.slept) == pytest.approx(LOG_CATCH_UP_SECONDS)


async def test_a_body_long_missing_or_present_is_not_waited_for() -> None:
    stale = record("dlv_old", NOW - 3_600_000, body=None)  # first seen an hour ago
    for records in ([stale], [record("dlv_2", NOW)]):
        log = FakeLog(records[0], arrives_at=None)
        await LogCatchUp().with_bodies(log.read, clock=log.clock, pause=log.pause)
        assert log.reads == 1 and log.slept == []


def test_the_test_event_is_a_documented_signet_test_delivery() -> None:
    destination = Destination(
        id="dst_1", type="webhook", name="Orders", created_at=1, updated_at=1, url="https://x.io"
    )
    event = ping_event("ws_1", destination, now_ms=NOW)
    delivery = ping_delivery(event, "dst_1")
    body = orjson.loads(delivery.body)
    assert body["type"] == TEST_EVENT_TYPE == delivery.event_type == "signet.test"
    assert body["id"] == delivery.event_id == event.id
    assert body["workspace_id"] == "ws_1" and body["resource_id"] == "dst_1"
    assert body["data"]["destination_id"] == "dst_1"
    assert body["data"]["destination_name"] == "Orders"
    assert (delivery.attempt, delivery.destination_id, delivery.replay_of) == (1, "dst_1", None)
