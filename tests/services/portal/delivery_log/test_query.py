"""The delivery list's query string (pure parsing, no portal): today's accepted values and
defaults, and every bad parameter named at once in the field-error shape."""

from __future__ import annotations

import pytest
from multidict import MultiDict
from signet_sdk.contract.fields import FieldErrors

from services.portal.delivery_log.query import DEFAULT_LIMIT, parse_time, read_delivery_query
from services.portal.delivery_log.store import DeliveryFilter, DeliveryStatus

SINCE_MS = 1_776_450_120_000  # 2026-04-17T18:22:00Z


def test_defaults_and_every_parameter() -> None:
    empty = read_delivery_query(MultiDict())
    assert (empty.filters, empty.cursor, empty.limit) == (DeliveryFilter(), None, DEFAULT_LIMIT)
    query = read_delivery_query(
        MultiDict(
            destination_id="dst_a",
            status="exhausted",
            event_type="order.*",
            since="2026-04-17T18:22:00Z",
            until="2026-04-17T21:22:00+02:00",  # one hour later, in another zone
            cursor="abc",
            limit="7",
            unknown="ignored",
        )
    )
    assert query.filters == DeliveryFilter(
        destination_id="dst_a",
        status=DeliveryStatus.EXHAUSTED,
        event_type="order.*",
        since=SINCE_MS,
        until=SINCE_MS + 3_600_000,
    )
    assert (query.cursor, query.limit) == ("abc", 7)


def test_every_bad_parameter_is_named_at_once() -> None:
    with pytest.raises(FieldErrors) as caught:
        read_delivery_query(
            MultiDict(
                [
                    ("limit", "0"),
                    ("status", "lost"),
                    ("since", "soon"),
                    ("until", "later"),
                    ("destination_id", ""),
                    ("cursor", "a"),
                    ("cursor", "b"),
                ]
            )
        )
    assert {(e.field, e.code.value) for e in caught.value.errors} == {
        ("limit", "range"),
        ("status", "choice"),
        ("since", "format"),
        ("until", "format"),
        ("destination_id", "length"),
        ("cursor", "type"),  # given twice
    }


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [
        ("limit", "101", "range"),
        ("limit", "ten", "type"),
        ("limit", "+5", "type"),
        ("limit", " 5", "type"),
        ("limit", "٣", "type"),  # a digit, not an ASCII one
        ("event_type", "x" * 256, "length"),
        ("destination_id", "dst\x00a", "format"),
        ("cursor", "c" * 601, "length"),
        ("cursor", "", "length"),
        ("since", "2026-04-17T18:22:00", "format"),
        ("until", "1969-12-31T23:59:59Z", "format"),
        ("since", "0001-01-01T00:00:00+23:59", "format"),
    ],
)
def test_a_bad_parameter_is_named_with_its_code(name: str, value: str, code: str) -> None:
    with pytest.raises(FieldErrors) as caught:
        read_delivery_query(MultiDict({name: value}))
    assert [(e.field, e.code.value) for e in caught.value.errors] == [(name, code)]


def test_limits_and_times_as_accepted_before() -> None:
    assert read_delivery_query(MultiDict(limit="007")).limit == 7
    assert read_delivery_query(MultiDict(limit="100")).limit == 100
    assert read_delivery_query(MultiDict(limit="1")).limit == 1
    longest = "e" * 255
    assert read_delivery_query(MultiDict(event_type=longest)).event_type == longest


def test_until_must_follow_since() -> None:
    with pytest.raises(FieldErrors) as caught:
        read_delivery_query(MultiDict(since="2026-04-18T00:00:00Z", until="2026-04-18T00:00:00Z"))
    [error] = caught.value.errors
    assert (error.field, error.code.value, error.message) == (
        "until",
        "range",
        "must be later than since",
    )


@pytest.mark.parametrize(
    "text",
    ["2026-04-17", "2026-04-17T18:22:00", "1969-12-31T23:59:59Z", "x" * 100, "T", "12345"],
)
def test_times_need_a_date_a_time_and_a_zone(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


def test_times() -> None:
    assert parse_time("1970-01-01T00:00:00.001Z") == 1
    assert parse_time("2026-04-17T20:22:00+02:00") == parse_time("2026-04-17T18:22:00Z")
