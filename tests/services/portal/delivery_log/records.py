"""Builders of the records the delivery log projects, for store, projection and route tests."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
from signet_sdk.ids import new_id

from signet.records.model import Delivery, Outcome, OutcomeStatus

_clock = itertools.count(1_760_000_000_000, 1000)


def tick() -> int:
    """A fresh, increasing epoch-ms time (2025), so orders are predictable."""
    return next(_clock)


def body_of(event_id: str, workspace_id: str, event_type: str, created_at: int) -> bytes:
    """The JSON a receiver gets (docs/architecture.md#what-a-receiver-gets), as the router
    builds it."""
    return orjson.dumps(
        {
            "id": event_id,
            "type": event_type,
            "resource": "order",
            "resource_id": "ord_lannister_77",
            "workspace_id": workspace_id,
            "created_at": created_at,
            "data": {"order_id": "ord_lannister_77", "total_cents": 12900, "owner": workspace_id},
        }
    )


def delivery(
    workspace_id: str,
    destination_id: str,
    *,
    event_id: str | None = None,
    event_type: str = "order.completed",
    created_at: int | None = None,
    **fields: Any,
) -> Delivery:
    event_id = event_id or new_id("evt")
    created_at = created_at if created_at is not None else tick()
    values: dict[str, Any] = {
        "id": new_id("dlv"),
        "event_id": event_id,
        "workspace_id": workspace_id,
        "destination_id": destination_id,
        "event_type": event_type,
        "body": body_of(event_id, workspace_id, event_type, created_at),
        "attempt": 1,
        "event_created_at": created_at,
        "due_at": created_at,
        **fields,
    }
    return Delivery(**values)


def outcome(
    of: Delivery,
    status: OutcomeStatus = OutcomeStatus.DELIVERED,
    *,
    attempt: int = 1,
    attempted_at: int | None = None,
    **fields: Any,
) -> Outcome:
    delivered = status is OutcomeStatus.DELIVERED
    values: dict[str, Any] = {
        "id": new_id("att"),
        "status": status.value,
        "delivery_id": of.id,
        "event_id": of.event_id,
        "workspace_id": of.workspace_id,
        "destination_id": of.destination_id,
        "event_type": of.event_type,
        "attempt": attempt,
        "attempted_at": attempted_at if attempted_at is not None else tick(),
        "event_created_at": of.event_created_at,
        "url": "https://hooks.example.com/signet",
        "http_status": 200 if delivered else 503,
        "latency_ms": 12.5 + attempt,
        "error": None if delivered else "HTTP 503",
        "response_excerpt": "ok" if delivered else "try later",
        "request_headers": {
            "webhook-id": of.event_id,
            "webhook-timestamp": "1760000000",
            "webhook-signature": "v1,c2lnbmF0dXJl",
        },
        "replay_of": of.replay_of,
        **fields,
    }
    return Outcome(**values)
