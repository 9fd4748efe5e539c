"""What the event-type catalog tests send and set up: an order type with a schema and an
example, an event body, a new workspace with an admin session, one subscribed to a
receiver, and the field → code of an error answer.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Stack
from tests.receiver import Receiver

ORDER_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["order_id", "total_cents"],
    "properties": {
        "order_id": {"type": "string"},
        "total_cents": {"$ref": "#/$defs/cents"},
    },
    "$defs": {"cents": {"type": "integer", "minimum": 0}},
}
ORDER_EXAMPLE = {"order_id": "ord_lannister_77", "total_cents": 12900}


def order_type(**overrides: Any) -> dict[str, Any]:
    return {
        "description": "An order was paid for",
        "schema": ORDER_SCHEMA,
        "example": ORDER_EXAMPLE,
        **overrides,
    }


def event(event_type: str, payload: dict[str, Any], resource_id: str = "ord_1") -> dict[str, Any]:
    return {
        "event": event_type,
        "resource": "order",
        "resource_id": resource_id,
        "payload": payload,
    }


async def new_workspace(stack: Stack) -> tuple[dict[str, Any], str]:
    return await stack.admin_workspace()


async def subscribed_workspace(
    stack: Stack, receiver: Receiver, name: str, event_types: list[str]
) -> dict[str, Any]:
    """A new workspace with one webhook destination, ``name``, to ``receiver``."""
    workspace, token = await new_workspace(stack)
    status, created = await stack.workspace(
        token,
        "POST",
        "/v1/workspace/destinations",
        {"type": "webhook", "name": name, "url": receiver.url, "event_types": event_types},
    )
    assert status == 201, created
    return workspace


def codes(answer: Any) -> dict[str, str]:
    """field → code, every error in the one shape."""
    for error in answer["errors"]:
        assert set(error) == {"field", "code", "message"}, answer
    return {e["field"]: e["code"] for e in answer["errors"]}
