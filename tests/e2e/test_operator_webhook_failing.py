"""``destination.disabled`` for the other cause: a destination failing without a success
for the whole health window (3 s here) is disabled, and the operator is told why."""

from __future__ import annotations

import base64
import os
from collections.abc import Awaitable, Callable

import pytest
from standardwebhooks import Webhook

from tests.e2e.conftest import ServiceSettings, Stack
from tests.eventually import never
from tests.receiver import Receiver, Reply

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def stack_settings() -> ServiceSettings:
    return {
        "dispatcher": {
            "retry_delays_seconds": "[1]",
            "retry_max_attempts": 50,
            "disable_after_failing_seconds": 3,
        }
    }


async def test_a_destination_failing_too_long_is_announced_disabled_with_its_cause(
    stack: Stack, make_receiver: Callable[[], Awaitable[Receiver]]
) -> None:
    operator, failing = await make_receiver(), await make_receiver()
    failing.default = Reply(status=503)
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    status, _ = await stack.operator(
        "PUT",
        "/v1/operator-webhook",
        {"url": operator.url, "secret": secret, "event_types": ["destination.disabled"]},
    )
    assert status == 200
    status, workspace = await stack.operator(
        "POST", "/v1/workspaces", {"name": "Failing", "environment": "production"}
    )
    assert status == 201, workspace
    status, session = await stack.operator(
        "POST", "/v1/sessions", {"workspace_id": workspace["id"], "role": "admin"}
    )
    status, destination = await stack.workspace(
        session["token"],
        "POST",
        "/v1/workspace/destinations",
        {"name": "Down", "url": failing.url, "event_types": ["*"]},
    )
    assert status == 201, destination
    status, _ = await stack.emit(
        workspace["publishable_key"],
        {"event": "order.completed", "resource": "order", "resource_id": "o1", "payload": {}},
    )
    assert status == 202

    (request,) = await operator.wait_for(1, timeout=60)
    body = Webhook(secret).verify(request.body, request.headers)
    assert body["type"] == "destination.disabled"
    data = body["data"]
    assert data["destination_id"] == destination["id"]
    assert data["workspace_id"] == workspace["id"]
    assert data["cause"] == "failing" and "http_status" not in data
    assert data["reason"].startswith("failing continuously since")
    # Announced once: a disabled destination is sent nothing more, decides nothing more.
    await never(lambda: len(operator.requests) > 1, "a second announcement", 3.0)
