"""Each partition's records reach the handlers once and in offset order, from the committed
offset on; how far that got is what the router commits.

Faust does not give this on its own (``transport.py`` says how it loses records), so the
router keeps, per source partition, the next offset to process: everything below it was
handled and its output acknowledged by the broker. The :class:`Sequencer`

- starts that mark at the consumer group's committed offset the first time it sees a
  partition after an assignment (:meth:`ProcessedOffsets.forget` on revocation);
- drops records below the mark (Faust delivers some twice after it seeks);
- when a record lies beyond the mark, reads the skipped range straight from the broker
  (:class:`SourceReader`) and hands it on first, so a record Faust dropped is still routed
  now, in order, and not only after the next restart;
- moves the mark only once the handler returned, i.e. once the batch's deliveries,
  snapshots and dead letters are acknowledged.

``transport.py`` commits these marks instead of Faust's own record of acked offsets, so an
offset is committed only when everything below it is durable downstream
(docs/architecture.md#offsets-and-at-least-once).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Protocol

from .metrics import RouterMetrics
from .source import SourceRecord

logger = logging.getLogger(__name__)

BatchHandler = Callable[[Sequence[SourceRecord]], Awaitable[None]]
Partition = tuple[str, int]  # (topic, partition)


class SourceReader(Protocol):
    """The broker, read directly (``backfill.py``)."""

    async def start_offset(self, topic: str, partition: int) -> int:
        """The group's committed offset, or where a consumer without one starts."""
        ...

    async def read(self, topic: str, partition: int, start: int, end: int) -> list[SourceRecord]:
        """The records at offsets ``start`` (inclusive) to ``end`` (exclusive)."""
        ...


class ProcessedOffsets:
    """Per source partition, the next offset to process: the low-water mark of done work."""

    def __init__(self) -> None:
        self._next: dict[Partition, int] = {}

    def get(self, partition: Partition) -> int | None:
        return self._next.get(partition)

    def advance(self, partition: Partition, next_offset: int) -> None:
        if next_offset > self._next.get(partition, -1):
            self._next[partition] = next_offset

    def forget(self, partitions: Iterable[Partition]) -> None:
        """Revoked partitions: the next owner, or this worker later, starts from the commit."""
        for partition in partitions:
            self._next.pop(partition, None)

    def __iter__(self) -> Iterator[tuple[Partition, int]]:
        return iter(list(self._next.items()))


class Sequencer:
    def __init__(
        self, reader: SourceReader, offsets: ProcessedOffsets, metrics: RouterMetrics
    ) -> None:
        self._reader = reader
        self._offsets = offsets
        self._metrics = metrics

    def wrap(self, handler: BatchHandler) -> BatchHandler:
        """``handler`` behind the sequencing: it gets each record once, in partition order."""

        async def handle(records: Sequence[SourceRecord]) -> None:
            batch, marks = await self._in_order(records)
            if batch:
                await handler(batch)
            for partition, next_offset in marks.items():
                self._offsets.advance(partition, next_offset)

        return handle

    async def _in_order(
        self, records: Sequence[SourceRecord]
    ) -> tuple[list[SourceRecord], dict[Partition, int]]:
        by_partition: dict[Partition, list[SourceRecord]] = {}
        for record in records:
            by_partition.setdefault((record.topic, record.partition), []).append(record)
        batch: list[SourceRecord] = []
        marks: dict[Partition, int] = {}
        for partition, fetched in by_partition.items():
            expected = self._offsets.get(partition)
            if expected is None:
                expected = await self._reader.start_offset(*partition)
            for record in sorted(fetched, key=lambda r: r.offset):
                if record.offset < expected:
                    continue  # handled already
                if record.offset > expected:
                    batch.extend(await self._skipped(partition, expected, record.offset))
                batch.append(record)
                expected = record.offset + 1
            marks[partition] = expected
        return batch, marks

    async def _skipped(self, partition: Partition, start: int, end: int) -> list[SourceRecord]:
        topic, number = partition
        records = await self._reader.read(topic, number, start, end)
        if records:
            # Offsets without a record (transaction markers) are gaps too; only real
            # records that Faust did not deliver are worth a warning.
            self._metrics.records_backfilled.inc(len(records))
            logger.warning(
                "%s[%d]: offsets %d..%d were not delivered by Faust; read %d records directly",
                topic,
                number,
                start,
                end - 1,
                len(records),
            )
        return records
