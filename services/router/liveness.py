"""Whether this router worker still works with Kafka; when it cannot, it restarts.

Across broker stalls (Tansu frozen 5 s, 30 s and 100 s under load, issue 13) Faust and
aiokafka heal by themselves: their requests wait out the stall (aiokafka times a request
out after Faust's ``broker_request_timeout``, 90 s; the producer's after 1 200 s), the
member keeps its partitions or rejoins, and routing resumes within a second of the
thaw. What they do not always do is *notice a client that died*, and a worker holding a
dead client consumes nothing while looking alive. Faust turns an error raised into one of its
own calls into a crash of the app (``app.py`` restarts on that), but not:

- a client whose background task ended (aiokafka's sender, group coordinator or fetch
  routine): nothing raises until something calls it, and an idle table never sends.
  ``streams.py`` finds those tasks; :func:`dead_task_reason` reads them every second;
- an error our own calls see that means the client will never work again (fenced,
  out-of-order sequence, closed): :func:`dead_client_reason`;
- a hang nobody foresaw: :class:`StallWatchdog` — for ``quiet_limit`` seconds with the
  broker answering, no round of Faust's fetch loop that could fetch (a loop whose
  partitions all stay paused spins and consumes nothing) and no batch handled.

Each of these marks the ``faust`` client state failed (``/readyz`` says 503 and why) and
requests a restart (exit 70; the supervisor starts a fresh worker). Faust cannot swap a
client under its running services, and a restart loses nothing: only the sequencer's
marks of finished work are ever committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import errors as aiokafka_errors
from confluent_kafka import KafkaException
from signet_sdk.kafka_errors import kafka_error_of

from signet.kafka.health import ClientState
from signet.runner import request_restart

logger = logging.getLogger(__name__)

CHECK_INTERVAL_SECONDS = 1.0

# Errors after which the aiokafka client that raised them never works again. The epoch
# and sequence errors are an idempotent or transactional producer's (Faust's producer is
# neither today; a setting away); a closed client is one still in use after it stopped.
# Not IllegalStateError: aiokafka raises it for a seek on a partition a rebalance just
# took away, which the next assignment mends.
_DEAD_CLIENT_ERRORS: tuple[type[BaseException], ...] = (
    aiokafka_errors.ProducerFenced,
    aiokafka_errors.OutOfOrderSequenceNumber,
    aiokafka_errors.InvalidProducerEpoch,
    aiokafka_errors.UnknownProducerId,
    aiokafka_errors.InvalidProducerIdMapping,
    aiokafka_errors.TransactionCoordinatorFenced,
    aiokafka_errors.TransactionalIdAuthorizationFailed,
    aiokafka_errors.ProducerClosed,
    aiokafka_errors.ConsumerStoppedError,
)


def dead_client_reason(exc: BaseException) -> str | None:
    """Why ``exc`` means its client is dead, or None for an error worth retrying.

    Looks through the chain: Faust wraps aiokafka's errors (``ProducerSendError``).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _DEAD_CLIENT_ERRORS):
            return f"{type(current).__name__}: {current}"
        if isinstance(current, KafkaException):
            err = kafka_error_of(current)
            if err is not None and err.fatal():
                return f"fatal: {err.str()}"
        current = current.__cause__ or current.__context__
    return None


def dead_task_reason(name: str, task: asyncio.Future[Any] | None) -> str | None:
    """Why a client's background task shows the client dead, or None while it runs.

    Called only while the client should be running: a routine that ended at all, even
    cleanly or cancelled, left its client without it.
    """
    if task is None or not task.done():
        return None
    if task.cancelled():
        return f"{name} was cancelled"
    error = task.exception()
    return f"{name} ended" if error is None else f"{name} failed: {error!r}"


class StallWatchdog:
    """How long the worker has shown no sign of life while the broker answered.

    A sign of life is a round of Faust's fetch loop that could fetch (it turns every
    fetch wait, with or without records, also while it waits out a stall) or a batch
    handled. The loop halts legitimately only while a rebalance suspends it (up to
    Faust's rebalance timeout) or while the handlers wait for a broker that is away; so
    time counts only from the later of the last sign and the broker's return.
    """

    def __init__(self, quiet_limit: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.quiet_limit = quiet_limit
        self._clock = clock
        self._last_sign = clock()
        self._reachable_since: float | None = self._last_sign

    def alive(self) -> None:
        """A sign of life (on the hot path: one clock read)."""
        self._last_sign = self._clock()

    def stalled_for(self, reachable: bool) -> float | None:
        """Seconds without a sign of life with the broker reachable, once past the
        limit; None otherwise. ``reachable`` is the broker probe's latest word."""
        now = self._clock()
        if not reachable:
            self._reachable_since = None
            return None
        if self._reachable_since is None:
            self._reachable_since = now
        quiet = now - max(self._last_sign, self._reachable_since)
        return quiet if quiet >= self.quiet_limit else None


class LivenessGuard:
    """Marks the worker's Faust clients dead and restarts the worker; checks every second.

    ``dead_client`` says which Faust client died in the background (``streams.py``);
    anyone else with a reason calls :meth:`report`.
    """

    def __init__(
        self,
        state: ClientState,
        watchdog: StallWatchdog,
        *,
        reachable: Callable[[], bool],
        dead_client: Callable[[], str | None],
        interval: float = CHECK_INTERVAL_SECONDS,
    ) -> None:
        self._state = state
        self._watchdog = watchdog
        self._reachable = reachable
        self._dead_client = dead_client
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def report(self, reason: str) -> None:
        """The worker cannot go on: 503 on ``/readyz`` with ``reason``, then a restart.
        Any thread; only the first report of a worker counts."""
        if self._state.failed(reason):
            request_restart(f"router: {reason}")

    def check(self) -> None:
        reason = self._dead_client()
        if reason is None:
            quiet = self._watchdog.stalled_for(self._reachable())
            if quiet is not None:
                reason = (
                    f"no progress for {quiet:.0f}s with the broker reachable "
                    f"(limit {self._watchdog.quiet_limit:.0f}s)"
                )
        if reason is not None:
            self.report(reason)

    async def start(self) -> None:
        if self._task is None:
            self._watchdog.alive()  # the clock starts with the worker, not at construction
            self._task = asyncio.create_task(self._watch(), name="router-liveness")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                self.check()
            except Exception:  # the guard must outlive a check that broke
                logger.exception("router liveness check failed")
