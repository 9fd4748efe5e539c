"""The shared event rules (pure logic): both entry paths agree, ids derive stably."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from signet_sdk.contract.events import (
    EventInputError,
    EventSource,
    build_event_input,
    event_id_for,
    parse_event,
)

VALID: dict[str, Any] = {
    "event": "order.completed",
    "resource": "order",
    "resource_id": "ord_1",
    "payload": {"total_cents": 12900},
}
EVENT_ID = re.compile(r"evt_[0-7][0-9A-HJKMNP-TV-Z]{25}")


def test_derived_ids_are_stable_scoped_and_id_shaped() -> None:
    first = event_id_for("ws_a", "order-1")
    assert first == event_id_for("ws_a", "order-1")
    assert EVENT_ID.fullmatch(first)
    assert first != event_id_for("ws_b", "order-1")
    assert first != event_id_for("ws_a", "order-2")
    # Length-prefixed parts: moving a character across the boundary changes the id.
    assert event_id_for("ws_a", "bc") != event_id_for("ws_ab", "c")


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"event": "a b"}, "event"),
        ({"event": ""}, "event"),
        ({"event": "Signet.Test"}, "event"),
        ({"event": 5}, "event"),
        ({"resource": " "}, "resource"),
        ({"resource": "a\nb"}, "resource"),
        ({"resource_id": "x" * 257}, "resource_id"),
        ({"resource_id": 1}, "resource_id"),
        ({"payload": []}, "payload"),
        ({"payload": None}, "payload"),
        ({"payload": {"blob": "x" * 300_000}}, "payload"),
        ({"id": ""}, "id"),
        ({"id": "tab\tkey"}, "id"),
    ],
)
def test_both_entry_paths_apply_the_same_rules(override: dict[str, Any], field: str) -> None:
    values = {**VALID, **override}
    with pytest.raises(EventInputError) as from_json:
        parse_event(values)
    with pytest.raises(EventInputError) as from_python:
        build_event_input(
            event=values["event"],
            resource=values["resource"],
            resource_id=values["resource_id"],
            payload=values["payload"],
            idempotency_key=values.get("id"),
        )
    assert [e.field for e in from_json.value.errors] == [field]
    assert [e.field for e in from_python.value.errors] == [field]
    assert from_json.value.errors[0].code == from_python.value.errors[0].code


def test_size_error_is_flagged_too_large() -> None:
    with pytest.raises(EventInputError) as caught:
        parse_event({**VALID, "payload": {"b": "x" * 2000}}, max_payload_bytes=1024)
    assert caught.value.too_large


def test_fingerprint_covers_every_field() -> None:
    base = parse_event(VALID)
    assert parse_event(VALID).fingerprint() == base.fingerprint()
    for change in (
        {"event": "order.created"},
        {"resource": "orders"},
        {"resource_id": "ord_2"},
        {"payload": {"total_cents": 1}},
    ):
        assert parse_event({**VALID, **change}).fingerprint() != base.fingerprint()


def test_to_record_uses_the_derived_id_with_a_key() -> None:
    item = parse_event({**VALID, "id": "k"})
    record = item.to_record("ws", event_id=item.event_id("ws"), source=EventSource.KAFKA)
    assert record["id"] == event_id_for("ws", "k")
    assert record["source"] == "kafka"
    assert record["payload"] == item.payload
    assert parse_event(VALID).event_id("ws") != parse_event(VALID).event_id("ws")


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=6))
def test_payload_round_trips_as_compact_json(payload: dict[str, Any]) -> None:
    body = orjson.dumps({**VALID, "payload": payload}, option=orjson.OPT_INDENT_2)
    item = parse_event(orjson.loads(body))
    assert orjson.loads(item.payload) == payload
    assert item.payload == orjson.dumps(payload)
