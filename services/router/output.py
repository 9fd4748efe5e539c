"""Writes the router's output and returns only once the broker has acknowledged all of it.

This is what makes the router at-least-once: the agents ack their source records (and so
let Faust commit the offsets) only after :meth:`OutputWriter.send_all` returned. A write
the broker refuses is retried with backoff, never skipped; if the process dies meanwhile,
the source offsets were not committed and the records are processed again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from signet.backoff import Backoff, retry_until_done
from signet.kafka.clients import AsyncProducer, DeadLetterWriter, Headers

from .metrics import RouterMetrics
from .source import SourceRecord

logger = logging.getLogger(__name__)

# Between tries of a write that must land (signet/backoff.py).
RETRY = Backoff(initial_seconds=0.2, max_seconds=5.0)


@dataclass(slots=True, frozen=True)
class OutRecord:
    topic: str
    value: bytes
    key: bytes | str
    headers: Headers | None = None


class OutputWriter:
    """Acknowledged writes of deliveries and dead letters.

    librdkafka already retries inside ``message.timeout.ms``; a failure reaching here
    means the broker refused or was unreachable that long, and moving on would lose the
    record, so the write is tried again until it lands (or the process stops).
    """

    def __init__(
        self, producer: AsyncProducer, dead_letters: DeadLetterWriter, metrics: RouterMetrics
    ) -> None:
        self._producer = producer
        self._dead_letters = dead_letters
        self._metrics = metrics

    async def send_all(self, records: Sequence[OutRecord]) -> None:
        """Produce every record (pipelined) and wait until each one is acknowledged."""
        pending = list(records)
        delays = RETRY.delays()
        while pending:
            futures = [
                self._producer.send_nowait(r.topic, r.value, r.key, r.headers) for r in pending
            ]
            results = await asyncio.gather(*futures, return_exceptions=True)
            failed = [
                (record, result)
                for record, result in zip(pending, results, strict=True)
                if isinstance(result, BaseException)
            ]
            if not failed:
                return
            self._metrics.produce_retries.inc(len(failed))
            logger.warning(
                "%d of %d records not acknowledged (%s); retrying",
                len(failed),
                len(pending),
                failed[0][1],
            )
            await asyncio.sleep(next(delays))
            pending = [record for record, _ in failed]

    async def dead_letter(self, record: SourceRecord, error: BaseException, source: str) -> None:
        def retrying(exc: BaseException, _delay: float) -> None:
            self._metrics.produce_retries.inc()
            logger.warning(
                "dead letter for %s[%s]@%s not acknowledged (%s); retrying",
                record.topic,
                record.partition,
                record.offset,
                exc,
            )

        await retry_until_done(
            partial(self._dead_letters.write, record.as_message(), error),
            retry_on=Exception,  # logged, and the write is retried
            on_retry=retrying,
            backoff=RETRY,
        )
        self._metrics.dead_letters.labels(source).inc()
