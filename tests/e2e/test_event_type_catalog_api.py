"""The event-type catalog through the portal's APIs, on the whole stack: the operator
stores and replaces types (a bad type or name refused naming the field, the operator key
required), a workspace session reads them, and the test endpoint sends a type's example.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
import standardwebhooks

from tests.e2e.conftest import Stack
from tests.e2e.event_types import ORDER_EXAMPLE, ORDER_SCHEMA, codes, new_workspace, order_type
from tests.receiver import Receiver

# -- the operator API ---------------------------------------------------------------------


async def test_put_creates_then_replaces_with_a_growing_version(stack: Stack) -> None:
    status, created = await stack.operator("PUT", "/v1/event-types/invoice.paid", order_type())
    assert status == 201, created
    assert created["name"] == "invoice.paid"
    assert created["version"] == 1
    assert created["schema"] == ORDER_SCHEMA and created["example"] == ORDER_EXAMPLE
    assert created["deprecated"] is False

    status, replaced = await stack.operator(
        "PUT", "/v1/event-types/invoice.paid", order_type(deprecated=True)
    )
    assert status == 200, replaced
    assert replaced["version"] == 2 and replaced["deprecated"] is True

    # The same again changes nothing, so the version stays.
    status, same = await stack.operator(
        "PUT", "/v1/event-types/invoice.paid", order_type(deprecated=True)
    )
    assert (status, same["version"]) == (200, 2)

    status, one = await stack.operator("GET", "/v1/event-types/invoice.paid")
    assert status == 200 and one == replaced
    status, listed = await stack.operator("GET", "/v1/event-types")
    assert status == 200
    assert replaced in listed["data"]


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (order_type(schema={"type": "objekt"}), "schema.type", "invalid"),
        (
            order_type(schema={"$ref": "https://example.com/order.json"}),
            "schema.$ref",
            "invalid",
        ),
        (
            order_type(schema={"type": "object", "description": "x" * (64 * 1024)}, example=None),
            "schema",
            "too_large",
        ),
        (
            order_type(example={"order_id": "ord_1", "total_cents": -5}),
            "example.total_cents",
            "schema",
        ),
        (order_type(example={"total_cents": 5}), "example.order_id", "schema"),
        (order_type(schema=[1]), "schema", "type"),
        (order_type(deprecated="yes"), "deprecated", "type"),
        ({"schema": None}, "description", "required"),
    ],
)
async def test_a_bad_type_is_refused_naming_the_field(
    stack: Stack, body: dict[str, Any], field: str, code: str
) -> None:
    status, answer = await stack.operator("PUT", "/v1/event-types/refund.issued", body)
    assert status == 400, answer
    assert codes(answer).get(field) == code, answer
    status, _ = await stack.operator("GET", "/v1/event-types/refund.issued")
    assert status == 404  # nothing was stored


@pytest.mark.parametrize("name", ["signet.test", "order..completed", "order completed"])
async def test_a_name_outside_the_event_name_rule_is_refused(stack: Stack, name: str) -> None:
    status, answer = await stack.operator("PUT", f"/v1/event-types/{name}", order_type())
    assert status == 400, answer
    assert "name" in codes(answer), answer


async def test_the_operator_key_is_required(stack: Stack) -> None:
    status, _ = await stack._call(
        "PUT", stack.portal_url + "/v1/event-types/order.x", "not-the-key", order_type()
    )
    assert status == 401


# -- what a workspace sees ----------------------------------------------------------------


async def test_a_viewer_session_reads_the_catalog(stack: Stack) -> None:
    await stack.operator("PUT", "/v1/event-types/customer.created", {"description": "new"})
    workspace, _ = await new_workspace(stack)
    status, session = await stack.operator(
        "POST", "/v1/sessions", {"workspace_id": workspace["id"], "role": "viewer"}
    )
    assert status == 201
    status, page = await stack.workspace(session["token"], "GET", "/v1/workspace/event-types")
    assert status == 200, page
    names = [t["name"] for t in page["data"]]
    assert "customer.created" in names and names == sorted(names)
    customer = next(t for t in page["data"] if t["name"] == "customer.created")
    assert customer["schema"] is None and customer["example"] is None
    status, _ = await stack.workspace("forged", "GET", "/v1/workspace/event-types")
    assert status == 401


# -- the test endpoint -----------------------------------------------------------------------


async def test_the_test_endpoint_sends_a_types_example(
    stack: Stack, make_receiver: Callable[[], Awaitable[Receiver]]
) -> None:
    await stack.operator("PUT", "/v1/event-types/order.refunded", order_type())
    await stack.operator("PUT", "/v1/event-types/order.noexample", {"description": "bare"})
    _, token = await new_workspace(stack)
    receiver = await make_receiver()
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    status, destination = await stack.workspace(
        token,
        "POST",
        "/v1/workspace/destinations",
        {
            "type": "webhook",
            "name": "Test me",
            "url": receiver.url,
            "event_types": ["order.*"],
            "secret": secret,
        },
    )
    assert status == 201, destination
    test_path = f"/v1/workspace/destinations/{destination['id']}/test"

    status, result = await stack.workspace(
        token, "POST", test_path, {"event_type": "order.refunded"}
    )
    assert status == 200, result
    assert result["status"] == "delivered"
    [typed] = await receiver.wait_for(1, timeout=30)
    standardwebhooks.Webhook(secret).verify(typed.body, typed.headers)
    body = orjson.loads(typed.body)
    assert body["type"] == "order.refunded" and body["data"] == ORDER_EXAMPLE
    assert body["resource"] == "signet.test" and body["resource_id"] == destination["id"]
    # Marked as a test in the log too.
    status, logged = await stack.workspace(token, "GET", f"/v1/workspace/events/{body['id']}")
    assert status == 200, logged
    assert logged["type"] == "order.refunded" and logged["resource"] == "signet.test"

    status, missing = await stack.workspace(token, "POST", test_path, {"event_type": "order.nope"})
    assert status == 404, missing
    status, bare = await stack.workspace(
        token, "POST", test_path, {"event_type": "order.noexample"}
    )
    assert status == 400, bare
    assert codes(bare) == {"event_type": "invalid"}

    status, plain = await stack.workspace(token, "POST", test_path)
    assert status == 200, plain
    received = await receiver.wait_for(2, timeout=30)
    assert orjson.loads(received[1].body)["type"] == "signet.test"
