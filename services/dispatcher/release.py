"""The tier consumer's half of the dispatcher: holds retries until their release time.

A record read from ``retry.<tier>`` is held in memory (``hold.py``) until
``min(due_at, appended_at + tier)``; a timer task wakes at the earliest release and
never before it. Then (``schedule.step_at_release``) the retry is sent through the same
pipeline as a fresh delivery, held on until its due time if that is closer than the
smallest tier, or hops to the tier that fits the time left. Its offset stays incomplete
through all of this, so nothing held is committed past and a crash loses nothing.

No sleep blocks the consumer: the poll loop keeps polling while records wait here. A
partition whose hold is full is paused (its fetches stop; the other partitions go on)
and resumed once it has drained to half. The pause takes effect before the next poll,
so a hold exceeds its capacity by at most the rest of one poll's batch. (Limiting every
poll to the fullest hold's room would make it exact, but would also throttle fresh
deliveries whenever a tier is nearly full.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Message
from signet_sdk.ids import now_ms

from services.dispatcher.decode import decode_delivery
from services.dispatcher.hold import RetryHold
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.schedule import Step, release_at, step_at_release
from signet.kafka.offsets import Partition, Ticket
from signet.records.model import Delivery

logger = logging.getLogger(__name__)


class RetryProcessor(Protocol):
    async def handle(self, delivery: Delivery) -> object: ...

    async def forward(self, delivery: Delivery) -> None: ...


Spawn = Callable[[Message, Ticket, Callable[[], Awaitable[object]]], None]


@dataclass(slots=True, frozen=True)
class _Held:
    msg: Message
    ticket: Ticket
    delivery: Delivery


class RetryReleaser:
    def __init__(
        self,
        tiers: dict[str, int],
        capacity: int,
        *,
        owns: Callable[[Ticket], bool],
        spawn: Spawn,
        processor: RetryProcessor,
        metrics: DispatcherMetrics,
    ) -> None:
        self._tiers = tiers  # topic → its delay in seconds
        self._hold: RetryHold[_Held] = RetryHold(capacity)
        self._owns = owns
        self._spawn = spawn
        self._processor = processor
        self._metrics = metrics
        self._paused: set[Partition] = set()
        self._to_pause: set[Partition] = set()
        self._to_resume: set[Partition] = set()
        self._wake = asyncio.Event()
        self._sleeping_until = math.inf
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        metrics.held.set_function(lambda: float(len(self._hold)))

    @property
    def topics(self) -> list[str]:
        return list(self._tiers)

    @property
    def held(self) -> int:
        return len(self._hold)

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="dispatcher-retry-release")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    # -- records in ----------------------------------------------------------------------

    def hold(self, partition: Partition, msg: Message, ticket: Ticket) -> None:
        """Keep a tier record until its release time; CodecError/InvalidRecordError if it
        is not a delivery (the caller dead-letters it)."""
        delivery = decode_delivery(msg.value())
        kind, timestamp = msg.timestamp()
        appended = timestamp if kind != TIMESTAMP_NOT_AVAILABLE and timestamp > 0 else now_ms()
        release = release_at(delivery.due_at, appended, self._tiers[partition.topic])
        self._hold.add(partition, release, _Held(msg, ticket, delivery))
        if self._hold.full(partition) and partition not in self._paused:
            self._paused.add(partition)
            self._to_pause.add(partition)
            self._to_resume.discard(partition)
            self._metrics.pauses.inc()
            self._metrics.paused.set(len(self._paused))
        if release < self._sleeping_until:
            self._wake.set()

    def forget(self, partitions: list[Partition]) -> None:
        """Revoked, lost or freshly assigned: nothing held, not paused."""
        tiered = [p for p in partitions if p.topic in self._tiers]
        self._hold.drop(tiered)
        for partition in tiered:
            self._paused.discard(partition)
            self._to_pause.discard(partition)
            self._to_resume.discard(partition)
        self._metrics.paused.set(len(self._paused))

    # -- flow control, applied by the consumer's thread -----------------------------------

    def take_flow_changes(self) -> tuple[set[Partition], set[Partition]]:
        pause, resume = self._to_pause, self._to_resume
        self._to_pause, self._to_resume = set(), set()
        return pause, resume

    def flow_changes_failed(self, pause: set[Partition], resume: set[Partition]) -> None:
        self._to_pause |= pause & self._paused
        self._to_resume |= resume - self._paused

    # -- the timer -----------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            next_at, now = self._hold.next_release(), now_ms()
            if next_at is None or next_at > now:
                self._sleeping_until = math.inf if next_at is None else next_at
                timeout = None if next_at is None else (next_at - now) / 1000
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                self._wake.clear()
                continue
            self._sleeping_until = math.inf
            for partition, held in self._hold.pop_due(now):
                try:
                    self._release(partition, held, now)
                except Exception as exc:  # one bad record must not stop every release
                    logger.exception("releasing %s failed; dead-lettering it", held.delivery.id)
                    # Its offset must not stay open (the partition's commits would stall
                    # behind it): the consumer dead-letters it with the reason and
                    # completes its ticket.
                    self._spawn(held.msg, held.ticket, partial(raise_error, exc))
            self._resume_drained()

    def _release(self, partition: Partition, held: _Held, now: int) -> None:
        if not self._owns(held.ticket):
            return  # revoked meanwhile: the new owner reads it again
        delivery = held.delivery
        step, _ = step_at_release(delivery.due_at, now)
        if step is Step.SEND:
            self._metrics.release_lateness.observe(max(0, now - delivery.due_at) / 1000)
            self._spawn(held.msg, held.ticket, partial(self._processor.handle, delivery))
        elif step is Step.HOLD:
            self._hold.add(partition, delivery.due_at, held)
        else:
            self._spawn(held.msg, held.ticket, partial(self._processor.forward, delivery))

    def _resume_drained(self) -> None:
        drained = {p for p in self._paused if self._hold.drained(p)}
        if drained:
            self._paused -= drained
            self._to_pause -= drained
            self._to_resume |= drained
            self._metrics.paused.set(len(self._paused))


async def raise_error(error: Exception) -> None:
    """Work that only fails with ``error``: how a record that cannot be worked on reaches
    the consumer's dead-lettering (and completes its ticket)."""
    raise error
