"""Unit tests of routing (patterns, destination choice, deliveries) and the rendered body."""

from __future__ import annotations

import dataclasses
import re

import orjson
import pytest

from services.router.routing import (
    Subscription,
    WorkspaceRoutes,
    build_deliveries,
    pattern_matches,
)
from services.router.source import SourceRecord, check_keyed_by_workspace, expected_partition
from signet.errors import InvalidRecordError
from signet.records.model import WorkspaceConfig
from signet.records.payload import check_payload, delivery_id, iso_utc_ms, render_body

from .records import SEED_PAYLOAD, event, slack, webhook

WS = "ws_casterly"


@pytest.mark.parametrize(
    ("pattern", "event_type", "expected"),
    [
        ("*", "order.completed", True),
        ("*", "x", True),
        ("order.*", "order.completed", True),
        ("order.*", "order.refund.created", True),
        ("order.*", "orders.completed", False),
        ("order.*", "order", False),
        ("order.*", "invoice.order.paid", False),
        ("order.completed", "order.completed", True),
        ("order.completed", "order.completed.v2", False),
        ("order.completed", "Order.Completed", False),
        ("order", "order.completed", False),
    ],
)
def test_pattern_matches(pattern: str, event_type: str, expected: bool) -> None:
    assert pattern_matches(pattern, event_type) is expected
    compiled = Subscription.of(webhook("dst_1", event_types=[pattern]))
    assert compiled.matches(event_type) is expected


def test_a_destination_matches_when_any_pattern_does_and_empty_matches_nothing() -> None:
    both = Subscription.of(webhook(event_types=["invoice.paid", "order.*"]))
    assert both.matches("invoice.paid") and both.matches("order.created")
    assert not both.matches("invoice.created")
    assert not Subscription.of(webhook(event_types=[])).matches("order.created")


def test_only_enabled_webhooks_receive_events_in_configured_order() -> None:
    config = WorkspaceConfig(
        workspace_id=WS,
        version=7,
        name="n",
        environment="production",
        created_at=1,
        updated_at=2,
        destinations=[
            webhook("dst_all", event_types=["*"]),
            webhook("dst_off", event_types=["*"], enabled=False),
            slack("dst_slack"),
            webhook("dst_orders", event_types=["order.*"]),
            webhook("dst_invoices", event_types=["invoice.paid"]),
        ],
    )
    routes = WorkspaceRoutes.of(config)
    assert routes.version == 7
    assert routes.destinations_for("order.completed") == ["dst_all", "dst_orders"]
    assert routes.destinations_for("invoice.paid") == ["dst_all", "dst_invoices"]
    assert routes.destinations_for("user.created") == ["dst_all"]


def test_deliveries_share_one_body_and_have_stable_ids() -> None:
    evt = event(WS)
    body = render_body(evt)
    deliveries = build_deliveries(evt, ["dst_a", "dst_b"], body, due_at=123)
    assert [d.destination_id for d in deliveries] == ["dst_a", "dst_b"]
    assert all(d.body is body for d in deliveries)
    assert all(
        (d.event_id, d.workspace_id, d.event_type, d.attempt, d.due_at, d.event_created_at)
        == (evt.id, WS, "order.completed", 1, 123, evt.created_at)
        for d in deliveries
    )
    assert all(d.first_attempt_at is None and d.replay_of is None for d in deliveries)
    again = build_deliveries(evt, ["dst_b", "dst_a"], render_body(evt), due_at=999)
    assert {d.id for d in again} == {d.id for d in deliveries}
    assert deliveries[0].id != deliveries[1].id


def test_delivery_id_is_deterministic_distinct_and_ordered_by_the_event_time() -> None:
    first = delivery_id("evt_1", "dst_1", 1_000)
    assert first == delivery_id("evt_1", "dst_1", 1_000)
    assert re.fullmatch(r"dlv_[0-9A-HJKMNP-TV-Z]{26}", first)
    others = {delivery_id("evt_1", "dst_2", 1_000), delivery_id("evt_2", "dst_1", 1_000), first}
    assert len(others) == 3
    # A later event's deliveries sort after: the delivery log's indexes grow at the end.
    assert first < delivery_id("evt_0", "dst_0", 1_001)


def test_body_is_the_contract_with_the_payload_bytes_untouched() -> None:
    # Key order and number formatting a re-serialisation would change.
    payload = b'{"z": 1, "a": 1.50, "nested": {"b": [1, 2]}, "u": "\\u00e9"}'
    evt = dataclasses.replace(event(WS, payload=payload), created_at=1_776_450_120_007)
    body = render_body(evt)
    assert body.endswith(b',"data":' + payload + b"}")
    assert orjson.loads(body) == {
        "id": evt.id,
        "type": "order.completed",
        "resource": "order",
        "resource_id": "ord_lannister_77",
        "workspace_id": WS,
        "created_at": "2026-04-17T18:22:00.007Z",
        "data": orjson.loads(payload),
    }
    assert render_body(evt) == body


@pytest.mark.parametrize(
    ("ms", "iso"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1_776_450_120_000, "2026-04-17T18:22:00.000Z"),
        (1_776_450_120_999, "2026-04-17T18:22:00.999Z"),
        (951_782_400_001, "2000-02-29T00:00:00.001Z"),
    ],
)
def test_iso_utc_ms(ms: int, iso: str) -> None:
    assert iso_utc_ms(ms) == iso


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object, not list"),
        (b'"text"', "must be a JSON object, not str"),
        (b"null", "must be a JSON object, not NoneType"),
    ],
)
def test_payloads_that_would_break_the_body_are_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(InvalidRecordError, match=reason):
        check_payload(payload)


def test_seed_payload_is_accepted() -> None:
    check_payload(SEED_PAYLOAD)


def test_records_must_sit_on_their_workspace_partition() -> None:
    key = WS.encode()
    home = expected_partition(key, 6)
    record = SourceRecord("t.events", home, 0, key, b"")
    check_keyed_by_workspace(record, WS, 6)
    with pytest.raises(InvalidRecordError, match=f"belongs on {home}"):
        check_keyed_by_workspace(dataclasses.replace(record, partition=(home + 1) % 6), WS, 6)
    with pytest.raises(InvalidRecordError, match="is not its workspace_id"):
        check_keyed_by_workspace(dataclasses.replace(record, key=b"ws_other"), WS, 6)
    with pytest.raises(InvalidRecordError, match="no key"):
        check_keyed_by_workspace(dataclasses.replace(record, key=None), WS, 6)


@pytest.mark.parametrize(
    ("key", "java_murmur2"),
    # Kafka's UtilsTest vectors: Utils.murmur2 as a signed 32-bit int.
    [(b"21", -973932308), (b"foobar", -790332482), (b"abc", 479470107)],
)
def test_expected_partition_is_kafkas_default_partitioner(key: bytes, java_murmur2: int) -> None:
    # DefaultPartitioner: toPositive(murmur2(key)) % numPartitions.
    for partitions in (1, 3, 6, 7):
        assert expected_partition(key, partitions) == (java_murmur2 & 0x7FFFFFFF) % partitions
