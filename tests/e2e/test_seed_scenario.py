"""The seed use case: a SaaS emits ``order.completed`` once; the customer's two webhook
receivers, each registered with its own secret, get the same signed event."""

from __future__ import annotations

import base64
import os
from collections.abc import Awaitable, Callable

import orjson
import standardwebhooks

from tests.e2e.conftest import Stack
from tests.receiver import Receiver

SEED_PAYLOAD = {
    "order_id": "ord_lannister_77",
    "customer_id": "cus_lannister",
    "account_id": "acc_casterly",
    "total_cents": 12900,
    "currency": "usd",
    "items": 3,
    "completed_at": "2026-04-17T18:22:00Z",
}


async def test_order_completed_reaches_both_receivers_signed(
    stack: Stack, make_receiver: Callable[[], Awaitable[Receiver]]
) -> None:
    primary = await make_receiver()
    audit = await make_receiver()

    status, workspace = await stack.operator(
        "POST", "/v1/workspaces", {"name": "Casterly", "environment": "production"}
    )
    assert status == 201, workspace
    assert workspace["publishable_key"].startswith("pk_live_")

    status, session = await stack.operator(
        "POST",
        "/v1/sessions",
        {
            "workspace_id": workspace["id"],
            "role": "admin",
            "ttl_seconds": 600,
            "allowed_origins": ["https://app.example.com"],
        },
    )
    assert status == 201, session
    token = session["token"]

    own_secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    status, first = await stack.workspace(
        token,
        "POST",
        "/v1/workspace/destinations",
        {
            "type": "webhook",
            "name": "Primary",
            "url": primary.url,
            "event_types": ["order.*"],
            "signature_scheme": "standard-webhooks",
            "secret": own_secret,
        },
    )
    assert status == 201, first
    assert "secret" not in first  # an own secret is never echoed

    status, second = await stack.workspace(
        token,
        "POST",
        "/v1/workspace/destinations",
        {"type": "webhook", "name": "Audit log", "url": audit.url, "event_types": ["*"]},
    )
    assert status == 201, second
    generated_secret = second["secret"]  # shown once
    assert generated_secret.startswith("whsec_") and generated_secret != own_secret

    status, accepted = await stack.emit(
        workspace["publishable_key"],
        {
            "event": "order.completed",
            "resource": "order",
            "resource_id": "ord_lannister_77",
            "payload": SEED_PAYLOAD,
        },
    )
    assert status == 202, accepted
    event_id = accepted["id"]

    [to_primary] = await primary.wait_for(1, timeout=30)
    [to_audit] = await audit.wait_for(1, timeout=30)

    for received, secret in ((to_primary, own_secret), (to_audit, generated_secret)):
        standardwebhooks.Webhook(secret).verify(received.body, received.headers)
        assert received.headers["webhook-id"] == event_id
        assert received.headers["Content-Type"] == "application/json"
        assert received.headers["User-Agent"].startswith("Signet/")

    # The other receiver's secret does not verify: each endpoint has its own.
    try:
        standardwebhooks.Webhook(own_secret).verify(to_audit.body, to_audit.headers)
    except standardwebhooks.WebhookVerificationError:
        pass
    else:
        raise AssertionError("the audit receiver's request verified with the primary's secret")

    assert to_primary.body == to_audit.body
    body = orjson.loads(to_primary.body)
    assert body["id"] == event_id
    assert body["type"] == "order.completed"
    assert body["resource"] == "order" and body["resource_id"] == "ord_lannister_77"
    assert body["workspace_id"] == workspace["id"]
    assert body["data"] == SEED_PAYLOAD

    # Emitted once: no second delivery arrives at either receiver.
    assert len(primary.requests) == 1 and len(audit.requests) == 1
