"""410 Gone through the whole stack: the dispatcher's disable command is applied by the
router, the portal shows the destination disabled with the reason, and the customer's
``PATCH {"enabled": true}`` turns deliveries back on."""

from __future__ import annotations

import base64
import os
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.e2e.conftest import ServiceSettings, Stack
from tests.eventually import eventually
from tests.receiver import Received, Receiver, Reply

pytestmark = pytest.mark.timeout(180)

MakeReceiver = Callable[[], Awaitable[Receiver]]


@pytest.fixture(scope="module")
def stack_settings() -> ServiceSettings:
    return {"dispatcher": {"retry_delays_seconds": "[1]"}}


async def emit(stack: Stack, key: str, n: int) -> str:
    status, accepted = await stack.emit(
        key,
        {"event": "order.completed", "resource": "order", "resource_id": f"ord_{n}", "payload": {}},
    )
    assert status == 202, accepted
    event_id: str = accepted["id"]
    return event_id


async def test_a_410_disables_the_destination_and_re_enabling_resumes_deliveries(
    stack: Stack, make_receiver: MakeReceiver
) -> None:
    receiver = await make_receiver()
    receiver.script(Reply(status=410, body=b"gone for good"))
    status, workspace = await stack.operator(
        "POST", "/v1/workspaces", {"name": "Gone", "environment": "production"}
    )
    assert status == 201, workspace
    status, session = await stack.operator(
        "POST", "/v1/sessions", {"workspace_id": workspace["id"], "role": "admin"}
    )
    assert status == 201, session
    token, key = session["token"], workspace["publishable_key"]
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    status, created = await stack.workspace(
        token,
        "POST",
        "/v1/workspace/destinations",
        {"name": "Orders", "url": receiver.url, "event_types": ["order.*"], "secret": secret},
    )
    assert status == 201, created
    path = f"/v1/workspace/destinations/{created['id']}"

    await emit(stack, key, 1)
    (gone,) = await receiver.wait_for(1, timeout=30)

    destination = await _until(stack, token, path, lambda d: not d["enabled"])
    assert "410" in destination["disabled_reason"]

    status, patched = await stack.workspace(token, "PATCH", path, {"enabled": True})
    assert status == 200, patched
    assert patched["enabled"] is True and patched["disabled_reason"] is None

    fresh = await emit(stack, key, 2)

    def delivered() -> list[Received]:
        return [r for r in receiver.requests if r.headers["webhook-id"] == fresh]

    (after,) = await eventually(delivered, "a delivery after re-enabling", 30)
    assert after.status == 200 and gone.status == 410


async def _until(
    stack: Stack, token: str, path: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """GET ``path`` until ``done`` holds (deadline 30 s)."""
    last: list[Any] = [None]

    async def reached() -> dict[str, Any] | None:
        status, body = await stack.workspace(token, "GET", path)
        assert status == 200, body
        last[0] = body
        return body if done(body) else None

    return await eventually(reached, lambda: f"not reached: {last[0]}", 30, interval=0.2)
