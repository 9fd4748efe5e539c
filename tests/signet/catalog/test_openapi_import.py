"""Event types read from an OpenAPI document's webhooks: names, descriptions, self-contained
schemas, examples, OpenAPI 3.0's keywords, and what cannot be read."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from signet.catalog.json_schema import schema_problems
from signet.catalog.openapi_import import ImportedType, webhook_types

ADDRESS = {
    "type": "object",
    "required": ["city"],
    "properties": {"city": {"type": "string"}, "country": {"$ref": "#/components/schemas/Country"}},
}
COMPONENTS = {
    "schemas": {
        "Order": {
            "type": "object",
            "required": ["order_id", "total_cents"],
            "properties": {
                "order_id": {"type": "string"},
                "total_cents": {"$ref": "#/components/schemas/Cents"},
                "ship_to": {"$ref": "#/components/schemas/Address"},
                "city": {"$ref": "#/components/schemas/Address/properties/city"},
            },
        },
        "Cents": {"type": "integer", "minimum": 0},
        "Address": ADDRESS,
        "Country": {"type": "string", "minLength": 2, "maxLength": 2},
        "Unused": {"type": "boolean"},
    }
}


def document(webhooks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Acme webhooks", "version": "1"},
        "webhooks": webhooks,
        "components": COMPONENTS,
        **extra,
    }


def posted(schema: Any = None, **operation: Any) -> dict[str, Any]:
    media: dict[str, Any] = {} if schema is None else {"schema": schema}
    media |= operation.pop("media", {})
    body = {"content": {"application/json": media}}
    return {"post": {"requestBody": body, **operation}}


def only(spec: dict[str, Any]) -> ImportedType:
    found, errors = webhook_types(spec)
    assert errors == []
    (one,) = found
    return one


def test_a_webhook_becomes_a_type_with_a_self_contained_schema() -> None:
    example = {"order_id": "ord_1", "total_cents": 12900, "ship_to": {"city": "Lannisport"}}
    spec = document(
        {
            "order.completed": posted(
                {"$ref": "#/components/schemas/Order"},
                summary="Paid",
                description="An order was paid for",
                media={"example": example},
            )
        }
    )
    imported = only(spec)
    assert imported.name == "order.completed"
    assert imported.description == "An order was paid for"
    assert imported.example == example and imported.deprecated is False
    schema = imported.schema
    assert schema is not None
    assert schema["$ref"] == "#/$defs/Order"
    # Every component it reaches, transitively, and nothing else.
    assert set(schema["$defs"]) == {"Order", "Cents", "Address", "Country"}
    assert schema["$defs"]["Order"]["properties"]["city"] == {
        "$ref": "#/$defs/Address/properties/city"
    }
    assert schema_problems(schema) == []  # what the catalog stores
    validator = Draft202012Validator(schema)
    assert validator.is_valid(example)
    assert not validator.is_valid({"order_id": "ord_1", "total_cents": -1})
    assert not validator.is_valid({**example, "ship_to": {"city": "X", "country": "Westeros"}})
    assert spec["components"] == COMPONENTS  # the document is not changed


def test_descriptions_and_examples_fall_back_in_order() -> None:
    summary = only(document({"a.b": posted({"type": "object"}, summary=" Only a summary ")}))
    assert summary.description == "Only a summary"
    bare = only(document({"a.c": posted({"type": "object"})}))
    assert bare.description == "a.c" and bare.example is None and bare.schema == {"type": "object"}

    named_examples = {"first": {"value": {"n": 1}}, "second": {"value": {"n": 2}}}
    from_examples = only(
        document({"a.d": posted({"type": "object"}, media={"examples": named_examples})})
    )
    assert from_examples.example == {"n": 1}
    in_schema = only(document({"a.e": posted({"type": "object", "examples": [{"n": 3}]})}))
    assert in_schema.example == {"n": 3}
    not_an_object = only(document({"a.f": posted({"type": "array"}, media={"example": [1]})}))
    assert not_an_object.example is None


def test_a_deprecated_operation_and_a_path_item_reference() -> None:
    spec = document(
        {"old.thing": {"$ref": "#/components/pathItems/Old"}},
        components={
            **COMPONENTS,
            "pathItems": {"Old": posted({"type": "object"}, deprecated=True)},
        },
    )
    imported = only(spec)
    assert imported.deprecated is True and imported.name == "old.thing"


def test_openapi_3_0_x_webhooks_and_its_keywords() -> None:
    spec = {
        "openapi": "3.0.3",
        "x-webhooks": {
            "invoice.paid": posted(
                {
                    "type": "object",
                    "properties": {
                        "note": {"type": "string", "nullable": True},
                        "amount": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
                        "discount": {"type": "number", "maximum": 1, "exclusiveMaximum": False},
                    },
                }
            )
        },
    }
    schema = only(spec).schema
    assert schema is not None
    properties = schema["properties"]
    assert properties["note"] == {"type": ["string", "null"]}
    assert properties["amount"] == {"type": "number", "exclusiveMinimum": 0}
    assert properties["discount"] == {"type": "number", "maximum": 1}
    assert schema_problems(schema) == []


def test_what_cannot_be_read_is_named() -> None:
    spec = document(
        {
            "no.post": {"get": {}},
            "remote.ref": posted({"$ref": "https://example.com/order.json#/Order"}),
            "missing.component": posted({"$ref": "#/components/schemas/Nope"}),
            "loop.item": {"$ref": "#/components/pathItems/Loop"},
            "fine.one": posted({"type": "object"}),
        },
        components={**COMPONENTS, "pathItems": {"Loop": {"$ref": "#/components/pathItems/Loop"}}},
    )
    found, errors = webhook_types(spec)
    assert [t.name for t in found] == ["remote.ref", "fine.one"]  # in document order
    fields = {e.field: e.message for e in errors}
    assert set(fields) == {
        "spec.webhooks.no.post",
        "spec.webhooks.missing.component.post.requestBody.schema",
        "spec.webhooks.loop.item",
    }
    assert "no post operation" in fields["spec.webhooks.no.post"]
    assert "does not have" in fields["spec.webhooks.missing.component.post.requestBody.schema"]
    # A remote reference is kept as given: the catalog's own check refuses it, naming it.
    remote = next(t for t in found if t.name == "remote.ref")
    assert remote.schema is not None
    assert [p.field for p in schema_problems(remote.schema)] == ["schema.$ref"]


def test_a_document_without_webhooks() -> None:
    documents: list[dict[str, Any]] = [
        {"openapi": "3.1.0", "paths": {}},
        {"webhooks": {}},
        {"webhooks": []},
    ]
    for spec in documents:
        found, errors = webhook_types(spec)
        assert found == [] and [e.field for e in errors] == ["spec"]
