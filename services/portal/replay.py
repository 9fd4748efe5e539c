"""Replays: a logged delivery sent again, as a new delivery of the same event.

A replay keeps what the receiver deduplicates and verifies against — the event id (so the
same ``webhook-id``) and the exact body bytes — and gets a fresh delivery id, attempt 1
and ``replay_of`` naming the delivery it repeats. The dispatcher signs it when it sends
it, with the destination's secrets of that moment and a fresh timestamp, and copies
``replay_of`` into the outcome, so the log shows it as a replay.

Recovering a destination replays its failed and exhausted deliveries of a time range,
oldest first, at most a bounded number per call; ``next_since`` says where to go on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.portal.delivery_log.store import DeliveryRecord
from services.portal.errors import FieldError, InvalidInput
from services.portal.validation import BodyReader
from signet.errors import BrokerError
from signet.ids import new_id
from signet.kafka.clients import AsyncProducer
from signet.records import codec
from signet.records.model import Delivery

TIME_MAX_LEN = 40
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def replay_delivery(record: DeliveryRecord, body: bytes, *, now_ms: int) -> Delivery:
    """A new delivery repeating ``record``: same event and body, fresh id, attempt 1."""
    return Delivery(
        id=new_id("dlv", now_ms=now_ms),
        event_id=record.event_id,
        workspace_id=record.workspace_id,
        destination_id=record.destination_id,
        event_type=record.event_type,
        body=body,
        attempt=1,
        # The event's own time: the body says it and the log filters on it. The retry
        # age of the replay counts from its own first attempt (first_attempt_at unset).
        event_created_at=record.event_created_at,
        due_at=now_ms,
        replay_of=record.id,
    )


# -- recover -------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class RecoverRequest:
    since_ms: int
    until_ms: int | None


def parse_time(reader: BodyReader, name: str, *, required: bool) -> int | None:
    """An RFC 3339 time with an offset (``2026-04-17T18:22:00Z``) as epoch milliseconds."""
    text = (
        reader.text(name, max_len=TIME_MAX_LEN)
        if required
        else reader.optional_text(name, max_len=TIME_MAX_LEN)
    )
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        reader.fail(name, "must be an RFC 3339 time with an offset, like 2026-04-17T18:22:00Z")
        return None
    # Integer maths: a float timestamp can land a millisecond early.
    ms = (moment - _EPOCH) // timedelta(milliseconds=1)
    if ms < 0:
        reader.fail(name, "must be 1970 or later")
        return None
    return ms


def read_recover(body: Any) -> RecoverRequest:
    reader = BodyReader(body, ("since", "until"))
    since = parse_time(reader, "since", required=True)
    until = parse_time(reader, "until", required=False)
    if since is not None and until is not None and until <= since:
        reader.fail("until", "must be later than since")
    reader.done()
    if since is None:  # done() raised for it already; this keeps the type checker honest
        raise InvalidInput([FieldError("since", "is required")])
    return RecoverRequest(since, until)


@dataclass(slots=True, frozen=True)
class RecoveryPlan:
    """What one ``recover`` call replays, and where the next call starts if it stopped early."""

    replay: tuple[DeliveryRecord, ...]
    truncated: bool
    next_since_ms: int | None
    without_body: int  # failed deliveries whose body the log has not seen: not replayable


def plan_recovery(records: Sequence[DeliveryRecord], limit: int) -> RecoveryPlan:
    """From up to ``limit + 1`` failed deliveries (oldest first), the ones this call replays.

    ``since`` is inclusive, so when the batch is cut, deliveries of the cut's very
    millisecond are left for the next call, which starts there: none is replayed twice
    and none skipped. Only if more than ``limit`` share one millisecond does the call
    replay ``limit`` of them and move past it.
    """
    batch = list(records[:limit])
    truncated = len(records) > limit
    next_since: int | None = None
    if truncated:
        boundary = records[limit].event_created_at
        kept = [r for r in batch if r.event_created_at < boundary]
        if kept:
            batch, next_since = kept, boundary
        else:
            next_since = boundary + 1
    # One replay per event: a failed replay of the same event is the same work again.
    seen: set[str] = set()
    replay: list[DeliveryRecord] = []
    without_body = 0
    for record in batch:
        if record.body is None:
            without_body += 1
        elif record.event_id not in seen:
            seen.add(record.event_id)
            replay.append(record)
    return RecoveryPlan(tuple(replay), truncated, next_since, without_body)


# -- producing -----------------------------------------------------------------------------


class DeliveryOutbox:
    """Produces deliveries to ``signet.deliveries`` keyed by destination id, acknowledged."""

    def __init__(self, producer: AsyncProducer, topic: str, *, timeout_seconds: float) -> None:
        self._producer = producer
        self._topic = topic
        self._timeout = timeout_seconds

    async def send(self, deliveries: Sequence[Delivery]) -> None:
        """Every delivery is on the broker (acks=all) when this returns; BrokerError if not.

        On an error some may have been written: a replay is safe to repeat (receivers
        deduplicate by ``webhook-id``).
        """
        futures = [
            self._producer.send_nowait(self._topic, codec.encode(d), key=d.destination_id)
            for d in deliveries
        ]
        try:
            await asyncio.wait_for(asyncio.gather(*futures), self._timeout)
        except TimeoutError as exc:
            raise BrokerError(f"no acknowledgement for {self._topic} in {self._timeout}s") from exc
