"""The SSRF guard on (as in production): the operator's webhook on 127.0.0.1 still gets
its events, because it is the operator's own backend, while a customer destination on
127.0.0.1 is still refused."""

from __future__ import annotations

import base64
import os
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from standardwebhooks import Webhook

from tests.e2e.conftest import ServiceSettings, Stack
from tests.eventually import eventually
from tests.receiver import Receiver

pytestmark = pytest.mark.timeout(180)

MakeReceiver = Callable[[], Awaitable[Receiver]]


@pytest.fixture(scope="module")
def stack_settings() -> ServiceSettings:
    return {"dispatcher": {"allow_private_destinations": False}}


async def test_the_operator_webhook_passes_the_guard_a_customer_destination_does_not(
    stack: Stack, make_receiver: MakeReceiver
) -> None:
    operator, customer = await make_receiver(), await make_receiver()
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    status, hook = await stack.operator(
        "PUT",
        "/v1/operator-webhook",
        {"url": operator.url, "secret": secret, "event_types": ["destination.created"]},
    )
    assert status == 200, hook
    status, workspace = await stack.operator(
        "POST", "/v1/workspaces", {"name": "Guarded", "environment": "production"}
    )
    assert status == 201, workspace
    status, session = await stack.operator(
        "POST", "/v1/sessions", {"workspace_id": workspace["id"], "role": "admin"}
    )
    token = session["token"]
    status, destination = await stack.workspace(
        token,
        "POST",
        "/v1/workspace/destinations",
        {"name": "Loopback", "url": customer.url, "event_types": ["*"]},
    )
    assert status == 201, destination

    (request,) = await operator.wait_for(1, timeout=30)
    body = Webhook(secret).verify(request.body, request.headers)
    assert body["type"] == "destination.created"
    assert body["data"]["destination_id"] == destination["id"]

    status, accepted = await stack.emit(
        workspace["publishable_key"],
        {"event": "order.completed", "resource": "order", "resource_id": "o1", "payload": {}},
    )
    assert status == 202, accepted

    async def refused() -> dict[str, Any] | None:
        status, page = await stack.workspace(token, "GET", "/v1/workspace/deliveries")
        assert status == 200, page
        done = [d for d in page["data"] if d["event_id"] == accepted["id"] and d["attempts"]]
        return done[0] if done else None

    logged = await eventually(refused, "the customer's delivery, refused")
    assert logged["status"] in ("failed", "exhausted")
    status, detail = await stack.workspace(token, "GET", f"/v1/workspace/deliveries/{logged['id']}")
    assert "refused" in detail["attempts"][0]["error"], detail
    assert customer.requests == []
