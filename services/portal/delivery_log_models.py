"""What the delivery log's routes answer, as models: the document and the JSON are one.

Each model is built from the store's records (``of``) and sent by ``views.answer``
(``model_dump(mode="json")``), so every key the handler sends is a field here and every
field is sent (nullable ones as ``null``). Times are RFC 3339 in UTC with milliseconds
(``2026-04-17T18:22:00.123Z``), formatted as every other portal answer formats them.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import Field
from signet_sdk.contract.models import Answer

from services.portal.delivery_log.store import (
    AttemptRecord,
    DeliveryHistory,
    DeliveryStatus,
    DeliverySummary,
    EventRecord,
)
from services.portal.views import Time, at, iso
from signet.records.model import OutcomeStatus


class LoggedAttempt(Answer):
    """One attempt to deliver, as the dispatcher reported it, with its link in the chain."""

    id: str
    attempt: int = Field(description="1 for the first attempt")
    status: OutcomeStatus
    attempted_at: Time
    http_status: int | None = Field(description="the receiver's status, if it answered")
    latency_ms: float | None
    error: str | None
    response_excerpt: str | None = Field(description="first 4 KiB of the response")
    url: str | None
    request_headers: dict[str, str] = Field(description="the signature headers sent")
    next_attempt_at: Time | None = Field(description="when the next attempt is due")
    replay_of: str | None = Field(description="the delivery this one replays")
    seq: int = Field(description="place in the workspace's hash chain")
    hash: str = Field(description="this entry's hash in the chain")

    @classmethod
    def of(cls, attempt: AttemptRecord) -> LoggedAttempt:
        return cls(
            id=attempt.id,
            attempt=attempt.attempt,
            status=OutcomeStatus(attempt.status),
            attempted_at=at(attempt.attempted_at),
            http_status=attempt.http_status,
            latency_ms=attempt.latency_ms,
            error=attempt.error,
            response_excerpt=attempt.response_excerpt,
            url=attempt.url,
            request_headers=dict(attempt.request_headers),
            next_attempt_at=iso(attempt.next_attempt_at),
            replay_of=attempt.replay_of,
            seq=attempt.seq,
            hash=attempt.hash,
        )


class _DeliveryFields(Answer):
    """What a delivery is, listed or in detail."""

    id: str
    event_id: str
    event_type: str
    destination_id: str
    status: DeliveryStatus = Field(description="that of its newest attempt; `pending` before one")
    last_attempt_id: str | None
    last_attempt_at: Time | None
    last_http_status: int | None
    next_attempt_at: Time | None
    replay_of: str | None = Field(description="the delivery this one replays")
    event_created_at: Time
    created_at: Time = Field(description="when the log first saw the delivery")
    updated_at: Time

    @staticmethod
    def fields_of(delivery: DeliverySummary) -> dict[str, Any]:
        return {
            "id": delivery.id,
            "event_id": delivery.event_id,
            "event_type": delivery.event_type,
            "destination_id": delivery.destination_id,
            "status": delivery.status,
            "last_attempt_id": delivery.last_attempt_id,
            "last_attempt_at": iso(delivery.last_attempt_at),
            "last_http_status": delivery.last_http_status,
            "next_attempt_at": iso(delivery.next_attempt_at),
            "replay_of": delivery.replay_of,
            "event_created_at": at(delivery.event_created_at),
            "created_at": at(delivery.first_seen_at),
            "updated_at": at(delivery.updated_at),
        }


class LoggedDelivery(_DeliveryFields):
    """A delivery as listed: the state of its newest attempt."""

    attempts: int = Field(description="how many attempts were made")

    @classmethod
    def of(cls, delivery: DeliverySummary) -> LoggedDelivery:
        return cls(**cls.fields_of(delivery), attempts=delivery.attempts)


class DeliveryWithAttempts(_DeliveryFields):
    """A delivery with every attempt, oldest first."""

    attempts: list[LoggedAttempt]

    @classmethod
    def of(
        cls, delivery: DeliverySummary, attempts: tuple[AttemptRecord, ...] | list[AttemptRecord]
    ) -> DeliveryWithAttempts:
        return cls(**cls.fields_of(delivery), attempts=[LoggedAttempt.of(a) for a in attempts])

    @classmethod
    def of_history(cls, history: DeliveryHistory) -> DeliveryWithAttempts:
        return cls.of(history.delivery, history.attempts)


class DeliveryPage(Answer):
    """One page of deliveries, newest first."""

    data: list[LoggedDelivery]
    next_cursor: str | None = Field(description="`cursor` of the next page; null on the last")
    has_more: bool


class LoggedEvent(Answer):
    """An event as the log knows it: its body's fields and every delivery of it."""

    id: str
    type: str
    created_at: Time
    resource: str | None
    resource_id: str | None
    data: Any = Field(description="the event's payload, as sent; null once erased")
    deliveries: list[DeliveryWithAttempts]
    payload_erased_at: Time | None = Field(
        default=None,
        description="when the payload was erased from the log (`data`, `resource` and "
        "`resource_id` are null from then on); null: never",
    )

    @classmethod
    def of(cls, event: EventRecord) -> LoggedEvent:
        sent: Any = None
        if event.body is not None:
            try:
                sent = orjson.loads(event.body)
            except orjson.JSONDecodeError:
                sent = None  # not ours to fail on: the bytes were sent as they are
        sent = sent if isinstance(sent, dict) else {}
        return cls(
            id=event.event_id,
            type=event.event_type,
            created_at=at(event.created_at),
            resource=_text(sent.get("resource")),
            resource_id=_text(sent.get("resource_id")),
            data=sent.get("data"),
            deliveries=[DeliveryWithAttempts.of_history(h) for h in event.deliveries],
            payload_erased_at=iso(event.payload_erased_at),
        )


def _text(value: object) -> str | None:
    # The router writes these as strings; anything else is shown as unknown, never sent
    # against the document.
    return value if isinstance(value, str) else None


class LogKey(Answer):
    """An Ed25519 public key that signs (or signed) log exports."""

    key_id: str = Field(examples=["lk_3f9a0c2b7d1e4a55"])
    algorithm: Literal["ed25519"]  # signet.security.chain_key.ALGORITHM
    public_key: str = Field(description="base64 of the raw 32-byte key")


class LogSigningKeys(LogKey):
    """The key that signs exports now, and every key still published (itself first)."""

    keys: list[LogKey]
