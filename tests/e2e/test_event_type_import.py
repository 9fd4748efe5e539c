"""Importing event types from an OpenAPI document, on the whole stack: a YAML document's
webhooks become cataloged types (checked before any is written), a dry run writes
nothing, importing again changes nothing, and ingest holds events to the imported schema.
"""

from __future__ import annotations

import uuid
from typing import Any

import yaml

from tests.e2e.conftest import Stack
from tests.e2e.event_types import codes, event, new_workspace

IMPORT = "/v1/event-types/import/openapi"


def spec_yaml(prefix: str, *, shipped_description: str = "An order left the warehouse") -> str:
    """An OpenAPI 3.1 document in YAML with two webhooks sharing a component."""
    return yaml.safe_dump(
        {
            "openapi": "3.1.0",
            "info": {"title": "Acme webhooks", "version": "1"},
            "webhooks": {
                f"{prefix}.paid": {
                    "post": {
                        "summary": "An order was paid for",
                        "requestBody": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Order"},
                                    "example": {"order_id": "ord_1", "total_cents": 12900},
                                }
                            }
                        },
                    }
                },
                f"{prefix}.shipped": {
                    "post": {
                        "description": shipped_description,
                        "deprecated": True,
                        "requestBody": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Order"}
                                }
                            }
                        },
                    }
                },
            },
            "components": {
                "schemas": {
                    "Order": {
                        "type": "object",
                        "required": ["order_id", "total_cents"],
                        "properties": {
                            "order_id": {"type": "string"},
                            "total_cents": {"$ref": "#/components/schemas/Cents"},
                        },
                    },
                    "Cents": {"type": "integer", "minimum": 0},
                }
            },
        }
    )


def unique_prefix() -> str:
    return f"acme{uuid.uuid4().hex[:8]}"


async def catalog_names(stack: Stack, prefix: str) -> dict[str, dict[str, Any]]:
    status, listed = await stack.operator("GET", "/v1/event-types")
    assert status == 200, listed
    return {t["name"]: t for t in listed["data"] if t["name"].startswith(prefix)}


async def test_a_yaml_document_s_webhooks_become_cataloged_types(stack: Stack) -> None:
    prefix = unique_prefix()
    paid, shipped = f"{prefix}.paid", f"{prefix}.shipped"

    status, dry = await stack.operator(
        "POST", IMPORT, {"spec_raw": spec_yaml(prefix), "dry_run": True}
    )
    assert status == 200, dry
    assert dry == {"created": [paid, shipped], "replaced": [], "unchanged": [], "dry_run": True}
    assert await catalog_names(stack, prefix) == {}

    status, imported = await stack.operator("POST", IMPORT, {"spec_raw": spec_yaml(prefix)})
    assert status == 200, imported
    assert imported["created"] == [paid, shipped] and imported["dry_run"] is False
    types = await catalog_names(stack, prefix)
    assert types[paid]["description"] == "An order was paid for"
    assert types[paid]["example"] == {"order_id": "ord_1", "total_cents": 12900}
    assert types[paid]["schema"]["$defs"]["Cents"] == {"type": "integer", "minimum": 0}
    assert types[shipped]["deprecated"] is True and types[shipped]["version"] == 1

    # Again: nothing changes; one webhook changed: only it is replaced.
    status, again = await stack.operator("POST", IMPORT, {"spec_raw": spec_yaml(prefix)})
    assert (status, again["unchanged"]) == (200, [paid, shipped])
    changed = spec_yaml(prefix, shipped_description="Shipped, with a tracking number")
    status, replaced = await stack.operator("POST", IMPORT, {"spec_raw": changed})
    assert (replaced["replaced"], replaced["unchanged"]) == ([shipped], [paid])
    assert (await catalog_names(stack, prefix))[shipped]["version"] == 2

    # Ingest holds events of the imported types to the imported schema.
    workspace, _ = await new_workspace(stack)
    status, refused = await stack.emit(
        workspace["publishable_key"], event(paid, {"order_id": "ord_2", "total_cents": -5})
    )
    assert status == 400 and codes(refused) == {"payload.total_cents": "schema"}
    status, accepted = await stack.emit(
        workspace["publishable_key"], event(paid, {"order_id": "ord_2", "total_cents": 5})
    )
    assert status == 202, accepted


async def test_a_document_with_a_bad_webhook_writes_nothing(stack: Stack) -> None:
    prefix = unique_prefix()
    spec = yaml.safe_load(spec_yaml(prefix))
    spec["webhooks"][f"{prefix}.shipped"]["post"]["requestBody"]["content"]["application/json"][
        "example"
    ] = {"order_id": "ord_1", "total_cents": "lots"}
    spec["webhooks"][f"{prefix}.broken"] = {"get": {}}

    status, refused = await stack.operator("POST", IMPORT, {"spec": spec})
    assert status == 400, refused
    assert codes(refused) == {
        f"spec.webhooks.{prefix}.shipped.example.total_cents": "schema",
        f"spec.webhooks.{prefix}.broken": "invalid",
    }
    assert await catalog_names(stack, prefix) == {}  # not even the good one


async def test_the_document_must_be_given_once_and_whole(stack: Stack) -> None:
    for body, field in (
        ({}, "body"),
        ({"spec": {"webhooks": {}}, "spec_raw": "openapi: 3.1.0"}, "body"),
        ({"spec_raw": "webhooks: [unclosed"}, "spec_raw"),
        ({"spec_raw": "- just\n- a list\n"}, "spec_raw"),
        ({"spec_raw": "a: &x {b: 1}\nc: *x\n"}, "spec_raw"),  # YAML aliases
        ({"spec": {"openapi": "3.1.0"}}, "spec"),  # no webhooks
    ):
        status, refused = await stack.operator("POST", IMPORT, body)
        assert status == 400, (body, refused)
        assert set(codes(refused)) == {field}, (body, refused)
