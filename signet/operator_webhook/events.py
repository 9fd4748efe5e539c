"""The operational events and the ``Delivery`` records that carry them.

An operational event goes to ``signet.deliveries`` like any delivery, addressed to the
reserved workspace :data:`OPERATOR_WORKSPACE_ID` and destination
:data:`OPERATOR_DESTINATION_ID`: the dispatcher sends it to the operator's webhook
(signed, retried through the delay tiers), and the delivery log keeps its attempts under
that workspace, which no session token can name (workspace ids are ``ws_…``), for the
operator's own route.

Every id is derived from the event's *cause* (a command id, a delivery id, the start of
a failure streak) and the body from the cause's own time, so a producer that redoes its
work (a router re-applying commands after a restart, a dispatcher redoing a delivery)
produces the same record again: the same ``webhook-id`` at the receiver, the same rows
in the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import orjson
from signet_sdk.ids import derived_id, now_ms

from signet.records.model import Delivery
from signet.records.payload import delivery_id, iso_utc_ms
from signet.security.secrets import secret_aad

# Reserved: never a customer's workspace (ws_…) nor destination (dst_…) id.
OPERATOR_WORKSPACE_ID = "signet.operator"
OPERATOR_DESTINATION_ID = "operator-webhook"


class OperationalEvent(StrEnum):
    DESTINATION_CREATED = "destination.created"
    DESTINATION_UPDATED = "destination.updated"
    DESTINATION_DELETED = "destination.deleted"
    DESTINATION_DISABLED = "destination.disabled"
    DESTINATION_SECRET_ROTATED = "destination.secret_rotated"  # noqa: S105 - a name
    DELIVERY_EXHAUSTED = "delivery.exhausted"
    DELIVERY_RECOVERED = "delivery.recovered"


class DisableCause(StrEnum):
    GONE = "gone"  # the receiver answered 410
    FAILING = "failing"  # failing without a success for SIGNET_DISABLE_AFTER_FAILING_SECONDS
    OTHER = "other"


def operator_secret_aad() -> bytes:
    """The AAD the operator webhook's secret is sealed under (portal) and opened with
    (dispatcher): it opens nowhere else."""
    return secret_aad(OPERATOR_WORKSPACE_ID, OPERATOR_DESTINATION_ID)


def is_operational(workspace_id: str) -> bool:
    return workspace_id == OPERATOR_WORKSPACE_ID


def render(event_type: OperationalEvent, at_ms: int, data: Mapping[str, Any]) -> bytes:
    """``{"type", "timestamp", "data"}``: the body the operator's webhook receives."""
    return orjson.dumps({"type": event_type.value, "timestamp": iso_utc_ms(at_ms), "data": data})


def operational_delivery(
    event_type: OperationalEvent,
    *,
    cause: tuple[str, ...],
    cause_at_ms: int,
    workspace_id: str,
    destination_id: str,
    data: Mapping[str, Any] | None = None,
    at_ms: int | None = None,
) -> Delivery:
    """The delivery of one operational event.

    ``cause`` names what caused it, uniquely (a command id, a delivery id), and
    ``cause_at_ms`` is a time that comes with the cause (a command's ``issued_at``): with
    ``event_type`` they decide every id. ``at_ms`` (default ``cause_at_ms``) is when it
    happened, the body's ``timestamp``.
    """
    happened = cause_at_ms if at_ms is None else at_ms
    event_id = derived_id("evt", "operational", event_type.value, *cause, at_ms=cause_at_ms)
    body = render(
        event_type,
        happened,
        {"workspace_id": workspace_id, "destination_id": destination_id, **(data or {})},
    )
    return Delivery(
        id=delivery_id(event_id, OPERATOR_DESTINATION_ID, cause_at_ms),
        event_id=event_id,
        workspace_id=OPERATOR_WORKSPACE_ID,
        destination_id=OPERATOR_DESTINATION_ID,
        event_type=event_type.value,
        body=body,
        attempt=1,
        event_created_at=happened,
        due_at=now_ms(),
    )
