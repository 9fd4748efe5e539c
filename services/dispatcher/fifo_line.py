"""One FIFO destination's line: a task that decides, in the order they arrived, on each
delivery for it (send it as the head, move it to the hold topic, release the next held
one, give up one that waited too long). The design is ``fifo.py``'s docstring."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from signet_sdk.ids import now_ms

from services.dispatcher.line_book import LineBook
from signet.records.model import Delivery, FifoLine, Outcome

T = TypeVar("T")


class Pipeline(Protocol):
    async def handle(self, delivery: Delivery) -> Outcome | None: ...

    async def forward(self, delivery: Delivery) -> None: ...

    async def give_up(self, delivery: Delivery, reason: str) -> Outcome: ...


class LineOwner(Protocol):
    """What a line asks of the processor that holds it (``fifo.FifoLines``)."""

    pipeline: Pipeline
    book: LineBook
    max_wait_seconds: float

    async def is_fifo_when_known(self, delivery: Delivery) -> bool: ...

    def unordered(
        self,
        delivery: Delivery,
        done: asyncio.Future[None],
        context: contextvars.Context | None = None,
    ) -> None: ...

    async def hold(self, delivery: Delivery) -> None: ...

    def waited_too_long(self, arrival: Arrival) -> bool: ...


def finished(outcome: Outcome | None) -> bool:
    """Is the head done: delivered, exhausted, or failed without a next attempt?
    (None: deferred to a retry tier without an attempt; it is still the head.)"""
    return outcome is not None and outcome.next_attempt_at is None


@dataclass(slots=True)
class Arrival:
    """Something for a line to decide on; ``done`` resolves when its record's offset may
    complete."""

    delivery: Delivery
    sequence: int  # its place in line (delivery.fifo_sequence)
    kind: str  # "fresh" (from deliveries), "held" (from the hold topic), "retry" (a tier)
    done: asyncio.Future[None]
    # A fresh one whose destination the config view did not know yet: FIFO or not is
    # decided in line, once the view has caught up (in order with what came after it).
    undecided: bool = False
    # Where it arrived from (its record's trace, signet/tracing.py): the line's task
    # sends it and moves it in this context, so its spans and records stay in its trace.
    context: contextvars.Context = dataclasses.field(default_factory=contextvars.copy_context)
    held_at: int | None = None  # a held one: when it went to the hold topic (epoch ms)


class Line:
    """One FIFO destination's line, decided on by one task in arrival order."""

    def __init__(self, owner: LineOwner, state: FifoLine) -> None:
        self._owner = owner
        self.state = state
        self._arrivals: asyncio.Queue[Arrival] = asyncio.Queue()
        self._held: deque[Arrival] = deque()  # read from the hold topic, in order
        self._task = asyncio.create_task(self._run(), name=f"fifo-{state.destination_id}")

    def arrive(self, arrival: Arrival) -> None:
        self._arrivals.put_nowait(arrival)

    @property
    def idle(self) -> bool:
        return self.state.head is None and not self._held and self._arrivals.empty()

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        for arrival in [*self._held, *self._drain_arrivals()]:
            arrival.done.cancel()  # their offsets stay incomplete: re-read by the next owner

    def _drain_arrivals(self) -> list[Arrival]:
        drained = []
        while not self._arrivals.empty():
            drained.append(self._arrivals.get_nowait())
        return drained

    async def _run(self) -> None:
        while True:
            arrival = await self._arrivals.get()
            try:
                await self._decide(arrival)
                await self._advance()
            except asyncio.CancelledError:
                arrival.done.cancel()
                raise
            except Exception as exc:  # noqa: BLE001 - the consumer dead-letters the record
                if not arrival.done.done():
                    arrival.done.set_exception(exc)

    async def _decide(self, arrival: Arrival) -> None:
        line, delivery, sequence = self.state, arrival.delivery, arrival.sequence
        if arrival.undecided and not await self._owner.is_fifo_when_known(delivery):
            unordered = dataclasses.replace(delivery, fifo_sequence=None)
            self._owner.unordered(unordered, arrival.done, arrival.context)
            return
        if sequence <= line.done_through:
            _resolve(arrival)  # finished before a restart: not sent again
            return
        if arrival.kind == "held":
            self._held.append(arrival)
            return
        if arrival.kind == "retry" or line.head == sequence:
            await self._go(arrival)
            return
        if sequence <= line.held_through:
            # Read again after a crash: it reached the hold topic (acknowledged before the
            # line's record said so) and is counted in ``waiting`` already.
            _resolve(arrival)
            return
        if line.head is not None or self._held or line.held_through > line.done_through:
            await _within(arrival, self._owner.hold(delivery))
            self.state = dataclasses.replace(
                line,
                held_through=max(line.held_through, sequence),
                waiting=line.waiting + 1,
                updated_at=now_ms(),
            )
            await self._owner.book.write(self.state)
            _resolve(arrival)
            return
        await self._go(arrival)

    async def _advance(self) -> None:
        """While the line is idle, the next held delivery becomes its head (or is the head
        already: it was being sent when the last owner stopped)."""
        while self._held and self.state.head in (None, self._held[0].sequence):
            arrival = self._held.popleft()
            sequence = arrival.sequence
            if sequence <= self.state.done_through:
                _resolve(arrival)  # finished before a restart (left ``waiting`` then)
                continue
            if sequence == self.state.head:  # the head, read again after a restart
                await self._go(arrival)
                continue
            waiting = max(0, self.state.waiting - 1)
            self.state = dataclasses.replace(self.state, waiting=waiting)
            if self._owner.waited_too_long(arrival):
                await self._give_up(arrival)
                continue
            await self._go(arrival)

    async def _give_up(self, arrival: Arrival) -> None:
        """Its turn came after it waited longer than the line allows: exhausted unsent, so
        the hold topic never keeps it near its retention (module docstring)."""
        waited = (now_ms() - (arrival.held_at or now_ms())) / 3600_000
        reason = (
            f"gave up: waited in line {waited:.1f} h behind a failing delivery, longer than "
            f"{self._owner.max_wait_seconds / 3600:g} h (SIGNET_FIFO_MAX_WAIT_SECONDS)"
        )
        await _within(arrival, self._owner.pipeline.give_up(arrival.delivery, reason))
        self.state = dataclasses.replace(
            self.state,
            done_through=max(self.state.done_through, arrival.sequence),
            updated_at=now_ms(),
        )
        await self._owner.book.write(self.state)
        _resolve(arrival)

    async def _go(self, arrival: Arrival) -> None:
        """Make ``arrival`` the head (written before it is sent) and hand it on."""
        delivery, line = arrival.delivery, self.state
        if line.head != arrival.sequence:
            self.state = line = dataclasses.replace(
                line,
                head=arrival.sequence,
                head_since=now_ms(),
                writer=self._owner.book.writer,
                updated_at=now_ms(),
            )
            await self._owner.book.write(line)
        outcome = await _within(arrival, self._owner.pipeline.handle(delivery))
        if finished(outcome):
            self.state = dataclasses.replace(
                self.state,
                head=None,
                head_since=None,
                done_through=max(self.state.done_through, arrival.sequence),
                updated_at=now_ms(),
            )
            await self._owner.book.write(self.state)
        _resolve(arrival)


async def _within(arrival: Arrival, work: Coroutine[Any, Any, T]) -> T:
    """``work`` run in the context ``arrival`` came in (its trace)."""
    return await asyncio.create_task(work, context=arrival.context)


def _resolve(arrival: Arrival) -> None:
    if not arrival.done.done():
        arrival.done.set_result(None)
