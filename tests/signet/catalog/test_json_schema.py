"""Checking a stored schema, and a payload against it (pure logic; the routes are in
tests/e2e/test_event_type_catalog_*.py)."""

from __future__ import annotations

from typing import Any

import pytest
from signet_sdk.contract.fields import FieldErrorCode

from signet.catalog.events import event_problems
from signet.catalog.json_schema import (
    MAX_REPORTED_ERRORS,
    MAX_SCHEMA_BYTES,
    PayloadSchema,
    inline_local_references,
    schema_problems,
)
from signet.catalog.view import CatalogEntry
from signet.records.model import EventTypeDefinition

ORDER: dict[str, Any] = {
    "type": "object",
    "required": ["order_id", "total_cents"],
    "properties": {
        "order_id": {"type": "string"},
        "total_cents": {"$ref": "#/$defs/cents"},
        "items": {"type": "array", "items": {"type": "object", "required": ["sku"]}},
    },
    "$defs": {"cents": {"type": "integer", "minimum": 0}},
}


def test_a_valid_schema_with_local_references_has_no_problems() -> None:
    assert schema_problems(ORDER) == []


@pytest.mark.parametrize(
    ("schema", "field", "code"),
    [
        ({"type": 5}, "schema.type", FieldErrorCode.INVALID),
        ({"minimum": "zero"}, "schema.minimum", FieldErrorCode.INVALID),
        ({"$ref": "https://example.com/s.json"}, "schema.$ref", FieldErrorCode.INVALID),
        (
            {"properties": {"a": {"$ref": "other.json#/x"}}},
            "schema.properties.a.$ref",
            FieldErrorCode.INVALID,
        ),
        ({"$dynamicRef": "http://x/y"}, "schema.$dynamicRef", FieldErrorCode.INVALID),
        ({"description": "x" * MAX_SCHEMA_BYTES}, "schema", FieldErrorCode.TOO_LARGE),
    ],
)
def test_a_bad_schema_is_named(schema: dict[str, Any], field: str, code: FieldErrorCode) -> None:
    problems = schema_problems(schema)
    assert (field, code) in [(p.field, p.code) for p in problems], problems


def test_payload_errors_name_the_field_inside_the_payload() -> None:
    schema = PayloadSchema(ORDER)
    assert schema.problems({"order_id": "o", "total_cents": 1}) == []
    problems = schema.problems({"total_cents": -1, "items": [{"sku": "a"}, {}]})
    assert [(p.field, p.code, p.message) for p in problems] == [
        ("payload.items[1].sku", FieldErrorCode.SCHEMA, "is required"),
        ("payload.order_id", FieldErrorCode.SCHEMA, "is required"),
        ("payload.total_cents", FieldErrorCode.SCHEMA, "-1 is less than the minimum of 0"),
    ]


def test_payload_errors_are_bounded() -> None:
    schema = PayloadSchema({"type": "object", "additionalProperties": {"type": "string"}})
    problems = schema.problems({f"k{n}": n for n in range(100)})
    assert len(problems) == MAX_REPORTED_ERRORS


def entry(version: int, schema: str | None) -> CatalogEntry:
    return CatalogEntry(
        EventTypeDefinition(
            name="order.completed",
            description="",
            version=version,
            updated_at=0,
            schema_json=schema,
        )
    )


class Catalog:
    def __init__(self, *entries: CatalogEntry) -> None:
        self._entries = {e.name: e for e in entries}

    def get(self, name: str) -> CatalogEntry | None:
        return self._entries.get(name)


def test_an_event_is_held_to_its_types_schema_and_the_required_catalog() -> None:
    catalog = Catalog(entry(1, '{"type": "object", "required": ["a"]}'))
    assert event_problems(catalog, "order.completed", b'{"a": 1}', require_cataloged=False) == []
    [missing] = event_problems(catalog, "order.completed", b"{}", require_cataloged=False)
    assert (missing.field, missing.code) == ("payload.a", FieldErrorCode.SCHEMA)
    # A type the catalog does not hold: accepted unless the catalog is required.
    assert event_problems(catalog, "order.shipped", b"{}", require_cataloged=False) == []
    [unknown] = event_problems(catalog, "order.shipped", b"{}", require_cataloged=True)
    assert (unknown.field, unknown.code) == ("event", FieldErrorCode.UNKNOWN_EVENT_TYPE)
    # A type without a schema accepts any object.
    bare = Catalog(entry(1, None))
    assert event_problems(bare, "order.completed", b'{"x": 1}', require_cataloged=True) == []


def test_a_validator_is_compiled_once_per_version() -> None:
    first = entry(1, '{"type": "object"}')
    assert first.payload_schema is first.payload_schema
    second = entry(2, '{"type": "object", "required": ["a"]}')
    assert second.payload_schema is not first.payload_schema
    assert second.payload_schema is not None and second.payload_schema.problems({})
    assert entry(3, None).payload_schema is None


def test_local_references_are_inlined_and_validate_the_same() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "a": {"$ref": "#/$defs/cents"},
            "b": {"$ref": "#/$defs/cents", "maximum": 10},
            "c": {"$ref": "#/$defs/a~1b"},
        },
        "$defs": {"cents": {"type": "integer", "minimum": 0}, "a/b": {"type": "string"}},
    }
    inlined = inline_local_references(schema)
    assert inlined["properties"]["a"] == {"type": "integer", "minimum": 0}
    assert inlined["properties"]["b"] == {
        "maximum": 10,
        "allOf": [{"type": "integer", "minimum": 0}],
    }
    assert inlined["properties"]["c"] == {"type": "string"}
    check = PayloadSchema(schema)
    assert check.problems({"a": 1, "b": 5, "c": "x"}) == []
    assert {p.field for p in check.problems({"a": -1, "b": 11, "c": 1})} == {
        "payload.a",
        "payload.b",
        "payload.c",
    }


@pytest.mark.parametrize(
    "schema",
    [
        # recursive
        {
            "$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}},
            "$ref": "#/$defs/node",
        },
        # an anchor, and a scope change below the root
        {"$defs": {"x": {"$anchor": "x", "type": "string"}}, "properties": {"a": {"$ref": "#x"}}},
        {"properties": {"a": {"$id": "https://example.com/a", "type": "string"}}},
    ],
)
def test_a_schema_that_cannot_be_inlined_is_kept_as_it_is(schema: dict[str, Any]) -> None:
    assert inline_local_references(schema) is schema
    PayloadSchema(schema).problems({})  # and still validates
