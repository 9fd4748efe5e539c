"""Ordered delivery: a FIFO destination's deliveries go one at a time, in line.

The design (docs/delivery.md#ordered-delivery says it for users):

**The order.** A destination's deliveries all land on one partition of ``deliveries``
(keyed by destination id), in the order the router produced them, which is the order
the workspace's events were accepted (one partition of ``events``). So a delivery's
offset on ``deliveries`` is its place in the destination's line: its *sequence*. A
replay or a recover is a new record on ``deliveries``, so it goes to the back of the line.
The sequence travels with the delivery as ``Delivery.fifo_sequence`` once it leaves
``deliveries`` (hold topic, retry tiers).

**One line per destination, one head.** The line's *head* is the one delivery being
worked on: in flight, or waiting on a retry tier for its next attempt (retries keep
their schedule, through the same tiers as any other). Only the head is ever handed to
the pipeline, so a FIFO destination has at most one request in flight and never meets
the queue-wait deferral. A delivery that arrives while there is a head, or while others
are held, does not wait in memory: it is produced to the hold topic ``fifo-hold`` (keyed
by destination id, partitioned like ``deliveries``, so the same dispatcher owns it) and
its ``deliveries`` offset completes. The partition's low-water mark is therefore never
held back by a stalled FIFO destination, and the destinations beside it go on as before.
Held deliveries are not attempts and write no outcome.

**Releasing in sequence.** Records read from the hold topic wait in memory, in order, in
their line; their hold-topic offsets stay incomplete until each one was delivered or gave
up, so a crash re-reads them. When the head finishes (delivered, exhausted, or dropped
because the destination is gone or disabled), the next held one becomes the head. At most
``SIGNET_FIFO_HELD_IN_MEMORY`` records of a hold partition are in memory: the consumer
cuts a poll batch there, pauses the partition and seeks it back to the first record left
out, and resumes it at half (``held_flow.py``); the rest wait on the topic.

**Bounded by the hold topic's retention.** A head's retries end within
``FIFO_MAX_RETRY_SPAN_SECONDS`` (84 h: the portal refuses a longer policy, and
``RetrySchedule.ordered`` caps the platform's). A held one whose turn comes after it
waited on the hold topic longer than ``SIGNET_FIFO_MAX_WAIT_SECONDS`` (60 h at most) is
given up unsent (an ``exhausted`` outcome saying so). So a held record meets its turn at
most 60 + 84 = 144 h after it was held, a day inside the topic's 7 days, and then is sent
(its hold offset completes with the first attempt; the retries live on the tiers) or
given up: none is near the retention while it still matters (unless the dispatcher is
down for that day). The one earlier in line always had its turn first, so a given-up one
advances ``done_through`` like any finished head.

**What survives a SIGKILL.** A line's state is a ``FifoLine`` record on the compacted
topic ``fifo-lines``: the head's sequence, the sequence of the last one that finished
(``done_through``), the highest sequence moved to hold (``held_through``), and how many
wait. It is written (acknowledged) *before* the head is sent and after it finished, and
read back at start. After a restart, then:

- a record whose sequence is at most ``done_through`` has finished: skipped, not sent;
- the head comes back (from ``deliveries``, the hold topic or its retry tier) and is sent
  again, with the same ``webhook-id`` (at-least-once, as everywhere);
- a fresh delivery behind a head or behind held ones (``held_through > done_through``)
  goes to the hold topic, behind them; so nothing overtakes an earlier delivery.

Within a line, everything is decided by one task per destination reading a queue of what
arrived (``fifo_line.Line``), so the decisions are made in the order the records were read;
each delivery is sent and moved in the context it arrived in (its trace). A delivery
whose destination the configuration view does not know yet is queued in a line too, and
decided there once the view has caught up (``DestinationLookup``): sent beside the line if
the destination is not FIFO. A rebalance drops every line; they are read back from their
records (or this process's newer own write) when their next delivery arrives.

**Limits, and what is not done.** The memory bound is per hold partition, not per line:
while one stalled line's held records fill it, another FIFO line's held records behind
them on that partition are not read, so that line waits too (at worst the same 144 h);
a bound per line would need one line's records re-read without its neighbours' (keeping
only the offsets of a full line's records, incomplete, and reading them back with a
second, group-less consumer when the line has room), which is not done. ``waiting`` is
exact across a crash: a held head read again leaves it only once, and a fresh delivery
read again that the record already counts as held (``held_through``) is not held twice.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
from functools import partial

from signet_sdk.ids import now_ms

from services.dispatcher.decode import decode_delivery
from services.dispatcher.errors import DestinationUnavailable
from services.dispatcher.fifo_line import Arrival, Line, Pipeline
from services.dispatcher.line_book import LineBook
from services.dispatcher.lookup import DestinationDirectory, DestinationLookup
from signet import tracing
from signet.backoff import retry_until_done
from signet.errors import BrokerError, InvalidRecordError
from signet.kafka.clients import AsyncProducer
from signet.kafka.fifo_line_view import FifoLineView
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import (
    Delivery,
    DeliveryOrdering,
    Destination,
    WorkspaceConfig,
)

logger = logging.getLogger(__name__)


def _ordered(destination: Destination) -> bool:
    return destination.ordering == DeliveryOrdering.FIFO.value


def _is_fifo(found: tuple[WorkspaceConfig, Destination] | None) -> bool:
    return found is not None and _ordered(found[1])


class FifoLines:
    """The dispatcher's processor, in front of the pipeline: deliveries to FIFO
    destinations go through their line, every other one straight to the pipeline."""

    def __init__(
        self,
        pipeline: Pipeline,
        directory: DestinationDirectory,
        producer: AsyncProducer,
        topics: Topics,
        view: FifoLineView,
        *,
        config_wait_seconds: float,
        max_wait_seconds: float,
    ) -> None:
        self.pipeline = pipeline
        self.max_wait_seconds = max_wait_seconds
        self.book = LineBook(producer, topics, view)
        self._directory = directory
        self._lookup = DestinationLookup(directory, config_wait_seconds)
        self._unordered: set[asyncio.Task[None]] = set()
        self._producer = producer
        self._hold_topic = topics.fifo_hold
        self._lines: dict[str, Line] = {}

    @property
    def hold_topic(self) -> str:
        return self._hold_topic

    def waiting(self) -> int:
        """Deliveries waiting behind heads on this process (a gauge)."""
        return sum(line.state.waiting for line in self._lines.values())

    # -- the processor the consumer and the releaser call ------------------------------

    async def process(self, value: bytes | None, sequence: int | None = None) -> object:
        """A record of ``deliveries`` at offset ``sequence``."""
        delivery = decode_delivery(value)
        found = self._directory.destination(delivery.destination_id)
        known_unordered = found is not None and not _ordered(found[1])
        if sequence is None or (known_unordered and delivery.destination_id not in self._lines):
            return await self.pipeline.handle(delivery)
        stamped = dataclasses.replace(delivery, fifo_sequence=sequence)
        await self._through_line(stamped, sequence, "fresh", undecided=not _is_fifo(found))
        return None

    async def held(self, value: bytes | None, held_at: int | None = None) -> object:
        """A record of the hold topic (appended at ``held_at``, epoch ms): waits in its
        line until its turn."""
        delivery = decode_delivery(value)
        if delivery.fifo_sequence is None:
            return await self.pipeline.handle(delivery)
        await self._through_line(delivery, delivery.fifo_sequence, "held", held_at=held_at)
        return None

    def waited_too_long(self, arrival: Arrival) -> bool:
        held_at = arrival.held_at
        return held_at is not None and now_ms() - held_at > self.max_wait_seconds * 1000

    async def handle(self, delivery: Delivery) -> object:
        """A retry released from a tier (due)."""
        if delivery.fifo_sequence is None:
            return await self.pipeline.handle(delivery)
        await self._through_line(delivery, delivery.fifo_sequence, "retry")
        return None

    async def forward(self, delivery: Delivery) -> None:
        await self.pipeline.forward(delivery)

    # -- lines -----------------------------------------------------------------------

    async def is_fifo_when_known(self, delivery: Delivery) -> bool:
        """Is ``delivery``'s destination FIFO, once the config view has caught up with
        it (up to the config wait; a destination that is gone is not)?"""
        try:
            _, destination = await self._lookup.find(delivery)
        except (DestinationUnavailable, InvalidRecordError):
            return False
        return _ordered(destination)

    def unordered(
        self,
        delivery: Delivery,
        done: asyncio.Future[None],
        context: contextvars.Context | None = None,
    ) -> None:
        """Send ``delivery`` beside the line, not in it; ``done`` when it was handled.
        ``context``: the one it arrived in (its trace) when it comes through a line's task,
        whose own context is its first arrival's."""

        async def run() -> None:
            try:
                await self.pipeline.handle(delivery)
            except Exception as exc:  # noqa: BLE001 - the consumer dead-letters the record
                done.set_exception(exc)
            else:
                done.set_result(None)

        task = asyncio.create_task(run(), context=context)
        self._unordered.add(task)
        task.add_done_callback(self._unordered.discard)

    def _through_line(
        self,
        delivery: Delivery,
        sequence: int,
        kind: str,
        *,
        undecided: bool = False,
        held_at: int | None = None,
    ) -> asyncio.Future[None]:
        """Queue ``delivery`` on its line now (in the order records were read; nothing
        awaited before), and the future of its part being done."""
        line = self._lines.get(delivery.destination_id)
        if line is None:
            state = self.book.read(delivery.destination_id, delivery.workspace_id)
            line = self._lines[delivery.destination_id] = Line(self, state)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        line.arrive(Arrival(delivery, sequence, kind, done, undecided, held_at=held_at))
        return done

    async def hold(self, delivery: Delivery) -> None:
        """Put ``delivery`` on the hold topic, behind the ones before it (acknowledged)."""
        value = codec.encode(delivery)
        send = partial(
            self._producer.send,
            self._hold_topic,
            value,
            key=delivery.destination_id,
            headers=tracing.record_headers(),  # it stays in its trace (signet/tracing.py)
        )
        await retry_until_done(
            send,
            retry_on=BrokerError,
            on_retry=lambda exc, _: logger.warning(
                "hold of %s not acknowledged (%s); retrying", delivery.id, exc
            ),
        )

    def forget(self) -> None:
        """Partitions were released (a rebalance): drop every line, cancelling what waits
        in them (their offsets stay incomplete; the records are read again)."""
        lines, self._lines = list(self._lines.values()), {}
        for line in lines:
            task = asyncio.create_task(line.close())
            self._unordered.add(task)
            task.add_done_callback(self._unordered.discard)

    async def close(self) -> None:
        lines, self._lines = list(self._lines.values()), {}
        for line in lines:
            await line.close()
