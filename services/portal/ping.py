""" "Send test event": one signed ``signet.test`` delivery to one destination.

The event is built here, never emitted on ``signet.events`` (no other destination of the
workspace gets it), and goes straight to ``signet.deliveries`` as attempt 1, so it takes
the real path: the dispatcher signs it with the destination's current secrets and sends
it, and the outcome lands in the delivery log like any other. Its body::

    {"id": "evt_…", "type": "signet.test", "resource": "destination",
     "resource_id": "dst_…", "workspace_id": "ws_…", "created_at": "…Z",
     "data": {"message": "…", "destination_id": "dst_…", "destination_name": "…"}}

A test of a cataloged type (``{"event_type": "order.completed"}``) has that type and the
type's example as ``data``; its ``resource`` is ``signet.test`` (``resource_id`` the
destination), which is how the receiver and the delivery log tell it from a real one.
"""

from __future__ import annotations

from typing import Literal

import orjson
from pydantic import Field
from signet_sdk.contract.models import Answer
from signet_sdk.ids import new_id

from services.portal.delivery_log.store import AttemptRecord
from services.portal.views import Time, iso
from signet.records.model import Delivery, Destination, Event
from signet.records.payload import delivery_id, render_body

TEST_EVENT_TYPE = "signet.test"
TEST_RESOURCE = "destination"
# The resource of a test event of a cataloged type: marks it as a test.
CATALOG_TEST_RESOURCE = TEST_EVENT_TYPE
TEST_MESSAGE = "A test event from Signet: your endpoint received it; check its signature."


def ping_event(workspace_id: str, destination: Destination, *, now_ms: int) -> Event:
    payload = {
        "message": TEST_MESSAGE,
        "destination_id": destination.id,
        "destination_name": destination.name,
    }
    return Event(
        id=new_id("evt", now_ms=now_ms),
        workspace_id=workspace_id,
        type=TEST_EVENT_TYPE,
        resource=TEST_RESOURCE,
        resource_id=destination.id,
        payload=orjson.dumps(payload),
        created_at=now_ms,
        source="portal",
    )


def catalog_test_event(
    workspace_id: str, destination: Destination, event_type: str, example: bytes, *, now_ms: int
) -> Event:
    """A test event of a cataloged type: its example, marked as a test by its resource."""
    return Event(
        id=new_id("evt", now_ms=now_ms),
        workspace_id=workspace_id,
        type=event_type,
        resource=CATALOG_TEST_RESOURCE,
        resource_id=destination.id,
        payload=example,
        created_at=now_ms,
        source="portal",
    )


def ping_delivery(event: Event, destination_id: str) -> Delivery:
    return Delivery(
        id=delivery_id(event.id, destination_id, event.created_at),
        event_id=event.id,
        workspace_id=event.workspace_id,
        destination_id=destination_id,
        event_type=event.type,
        body=render_body(event),
        attempt=1,
        event_created_at=event.created_at,
        due_at=event.created_at,
    )


PingStatus = Literal["delivered", "failed", "exhausted", "destination_disabled", "pending"]
PENDING: PingStatus = "pending"


class PingResult(Answer):
    """The test event's attempt and the receiver's answer, or ``pending`` with the ids
    alone when none came in time."""

    delivery_id: str
    event_id: str
    status: PingStatus
    http_status: int | None = Field(default=None, description="the receiver's answer")
    latency_ms: float | None = None
    response_excerpt: str | None = None
    error: str | None = None
    attempted_at: Time | None = None


def ping_result_view(delivery: Delivery, attempt: AttemptRecord | None) -> PingResult:
    """The answer to "send test event": the attempt's result, or ``pending`` if not yet in."""
    if attempt is None:
        return PingResult(delivery_id=delivery.id, event_id=delivery.event_id, status=PENDING)
    return PingResult.model_validate(
        {
            "delivery_id": delivery.id,
            "event_id": delivery.event_id,
            "status": attempt.status,
            "http_status": attempt.http_status,
            "latency_ms": attempt.latency_ms,
            "response_excerpt": attempt.response_excerpt,
            "error": attempt.error,
            "attempted_at": iso(attempt.attempted_at),
        }
    )
