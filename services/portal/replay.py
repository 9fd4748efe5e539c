"""Replays: a logged delivery sent again, as a new delivery of the same event.

A replay keeps what the receiver deduplicates and verifies against — the event id (so the
same ``webhook-id``) and the exact body bytes — and gets a fresh delivery id, attempt 1
and ``replay_of`` naming the delivery it repeats. The dispatcher signs it when it sends
it, with the destination's secrets of that moment and a fresh timestamp, and copies
``replay_of`` into the outcome, so the log shows it as a replay.

Recovering a destination replays its failed and exhausted deliveries of a time range,
oldest first, at most a bounded number per call; ``next_since`` says where to go on.

Both need the body the delivery log recorded, and the log trails Kafka by a fetch: they
wait for a body it is about to record (:class:`LogCatchUp`), a few seconds at most.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator
from signet_sdk.contract.fields import FieldErrorCode, RuleError
from signet_sdk.contract.models import Answer, Body
from signet_sdk.ids import new_id
from signet_sdk.ids import now_ms as clock_ms

from services.portal.body_fields import NULL_UNDOCUMENTED, TimeText, epoch_ms
from services.portal.delivery_log.store import DeliveryRecord
from services.portal.views import Time
from signet import tracing
from signet.backoff import Backoff
from signet.errors import BrokerError
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import Delivery
from signet.settings import PortalSettings


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


# -- the bodies ---------------------------------------------------------------------------


class RecoverRequest(Body):
    """The range of ``recover``: events created in ``[since, until)``."""

    since: Annotated[TimeText, Field(description="event time, inclusive")]
    until: Annotated[
        TimeText | None, NULL_UNDOCUMENTED, Field(description="event time, exclusive")
    ] = None

    @field_validator("until")
    @classmethod
    def _after_since(cls, until: str | None, info: ValidationInfo) -> str | None:
        since = info.data.get("since")
        if until is not None and since is not None and epoch_ms(until) <= epoch_ms(since):
            raise RuleError("must be later than since", FieldErrorCode.RANGE)
        return until

    @property
    def since_ms(self) -> int:
        return epoch_ms(self.since)

    @property
    def until_ms(self) -> int | None:
        return None if self.until is None else epoch_ms(self.until)


class Replayed(Answer):
    """A replay on its way: a new delivery of the same event."""

    delivery_id: str = Field(description="the new delivery")
    replay_of: str = Field(description="the delivery it repeats")
    event_id: str = Field(description="unchanged: the webhook-id")

    @classmethod
    def of(cls, delivery: Delivery) -> Replayed:
        return cls(
            delivery_id=delivery.id, replay_of=delivery.replay_of or "", event_id=delivery.event_id
        )


class Recovered(Answer):
    replayed: int = Field(description="how many deliveries were sent again")
    truncated: bool = Field(description="more remain: call again from `next_since`")
    next_since: Annotated[Time | None, NULL_UNDOCUMENTED] = Field(
        default=None, description="when truncated: call again with this since"
    )
    deliveries: list[Replayed]
    skipped_without_body: int = Field(
        default=0, description="failed deliveries whose body the log has not recorded"
    )
    skipped_erased: int = Field(
        default=0, description="failed deliveries of events whose payload was erased"
    )


@dataclass(slots=True, frozen=True)
class RecoveryPlan:
    """What one ``recover`` call replays, and where the next call starts if it stopped early."""

    replay: tuple[DeliveryRecord, ...]
    truncated: bool
    next_since_ms: int | None
    without_body: int  # failed deliveries whose body the log has not seen: not replayable
    erased: tuple[DeliveryRecord, ...] = ()  # failed deliveries of erased events: never


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
    erased: list[DeliveryRecord] = []
    for record in batch:
        if record.payload_erased_at is not None:
            erased.append(record)
        elif record.body is None:
            without_body += 1
        elif record.event_id not in seen:
            seen.add(record.event_id)
            replay.append(record)
    return RecoveryPlan(tuple(replay), truncated, next_since, without_body, tuple(erased))


# -- waiting for the log --------------------------------------------------------------------

# The delivery log is a projection of two topics: a delivery's attempt (signet.outcomes) can
# be logged a fetch before its body (signet.deliveries). A replay or recover missing a body
# the log first saw this recently waits for it, up to LOG_CATCH_UP_SECONDS, before it
# answers 409 (replay) or counts it in skipped_without_body (recover).
LOG_CATCH_UP_SECONDS = 5.0
# A body still missing this long after the log first saw its delivery is not on its way
# (a purged or lost record): no wait for it.
BODY_EXPECTED_WITHIN_SECONDS = 60.0
_POLL = Backoff(initial_seconds=0.05, max_seconds=0.5)

Pause = Callable[[float], Awaitable[None]]


@dataclass(slots=True, frozen=True)
class LogCatchUp:
    """How a replay waits for the delivery log to record the bodies it needs."""

    timeout_seconds: float = LOG_CATCH_UP_SECONDS
    expected_within_seconds: float = BODY_EXPECTED_WITHIN_SECONDS
    poll: Backoff = _POLL

    def awaited(self, record: DeliveryRecord, now: int) -> bool:
        """Whether ``record``'s body is missing but should arrive soon (never once erased)."""
        return (
            record.body is None and record.payload_erased_at is None
        ) and now - record.first_seen_at < (self.expected_within_seconds * 1000)

    async def with_bodies(
        self,
        read: Callable[[], Awaitable[Sequence[DeliveryRecord]]],
        *,
        clock: Callable[[], int] = clock_ms,
        pause: Pause = asyncio.sleep,
    ) -> Sequence[DeliveryRecord]:
        """``read()`` again until no record awaits its body, or the time is up."""
        records = await read()
        waited = 0.0
        delays = self.poll.delays()
        while waited < self.timeout_seconds and any(self.awaited(r, clock()) for r in records):
            delay = min(next(delays), self.timeout_seconds - waited)
            await pause(delay)
            waited += delay
            records = await read()
        return records


# -- producing -----------------------------------------------------------------------------


class DeliveryOutbox:
    """Produces deliveries to ``signet.deliveries`` keyed by destination id, acknowledged."""

    def __init__(self, producer: AsyncProducer, topic: str, *, timeout_seconds: float) -> None:
        self._producer = producer
        self._topic = topic
        self._timeout = timeout_seconds

    @classmethod
    def from_settings(cls, settings: PortalSettings, producer: AsyncProducer) -> DeliveryOutbox:
        """To this deployment's deliveries topic, waiting as long as for a command."""
        return cls(
            producer,
            Topics.from_settings(settings).deliveries,
            timeout_seconds=settings.command_timeout_seconds,
        )

    async def send(self, deliveries: Sequence[Delivery]) -> None:
        """Every delivery is on the broker (acks=all) when this returns; BrokerError if not.

        On an error some may have been written: a replay is safe to repeat (receivers
        deduplicate by ``webhook-id``).
        """
        # In the trace of the request that asked for them (its server span), which the
        # dispatcher continues: the attempts of a replay, a recover or a test event join it.
        headers = tracing.record_headers()
        futures = [
            self._producer.send_nowait(
                self._topic, codec.encode(d), key=d.destination_id, headers=headers
            )
            for d in deliveries
        ]
        try:
            await asyncio.wait_for(asyncio.gather(*futures), self._timeout)
        except TimeoutError as exc:
            raise BrokerError(f"no acknowledgement for {self._topic} in {self._timeout}s") from exc
