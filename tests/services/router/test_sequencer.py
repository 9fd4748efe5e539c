"""Unit tests of the sequencing (pure): each partition's records reach the handler once, in
offset order, from the committed offset; skipped ranges are read back; the marks that the
router commits move only once the handler returned."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from prometheus_client import CollectorRegistry

from services.router.metrics import RouterMetrics
from services.router.sequencer import ProcessedOffsets, Sequencer
from services.router.source import SourceRecord

EVENTS = "t.events"
COMMANDS = "t.workspace-commands"


def record(offset: int, partition: int = 0, topic: str = EVENTS) -> SourceRecord:
    return SourceRecord(topic, partition, offset, b"ws", f"{topic}-{partition}-{offset}".encode())


class BrokerLog:
    """What the broker holds: the records of each partition and the committed offsets."""

    def __init__(self, committed: dict[tuple[str, int], int] | None = None) -> None:
        self.committed = committed or {}
        self.reads: list[tuple[str, int, int, int]] = []
        self.missing: set[int] = set()  # offsets without a record (transaction markers)

    async def start_offset(self, topic: str, partition: int) -> int:
        return self.committed.get((topic, partition), 0)

    async def read(self, topic: str, partition: int, start: int, end: int) -> list[SourceRecord]:
        self.reads.append((topic, partition, start, end))
        return [record(o, partition, topic) for o in range(start, end) if o not in self.missing]


class Handler:
    def __init__(self) -> None:
        self.batches: list[list[tuple[str, int, int]]] = []
        self.fail = False

    async def __call__(self, records: Sequence[SourceRecord]) -> None:
        if self.fail:
            raise RuntimeError("broker down")
        self.batches.append([(r.topic, r.partition, r.offset) for r in records])


@pytest.fixture
def offsets() -> ProcessedOffsets:
    return ProcessedOffsets()


def sequencer(log: BrokerLog, offsets: ProcessedOffsets) -> Sequencer:
    return Sequencer(log, offsets, RouterMetrics(CollectorRegistry()))


async def test_records_from_the_committed_offset_are_handled_and_marked() -> None:
    log, offsets, handler = BrokerLog({(EVENTS, 0): 5}), ProcessedOffsets(), Handler()
    handle = sequencer(log, offsets).wrap(handler)
    await handle([record(5), record(6), record(7)])
    assert handler.batches == [[(EVENTS, 0, 5), (EVENTS, 0, 6), (EVENTS, 0, 7)]]
    assert offsets.get((EVENTS, 0)) == 8
    assert log.reads == []


async def test_records_below_the_mark_are_not_handled_again(offsets: ProcessedOffsets) -> None:
    log, handler = BrokerLog({(EVENTS, 0): 5}), Handler()
    handle = sequencer(log, offsets).wrap(handler)
    await handle([record(3), record(4), record(5)])  # Faust re-delivers after a seek
    await handle([record(5), record(6)])
    assert handler.batches == [[(EVENTS, 0, 5)], [(EVENTS, 0, 6)]]
    assert offsets.get((EVENTS, 0)) == 7


async def test_a_range_faust_skipped_is_read_and_handled_first_in_order(
    offsets: ProcessedOffsets,
) -> None:
    log, handler = BrokerLog({(EVENTS, 0): 104}), Handler()
    handle = sequencer(log, offsets).wrap(handler)
    # The trace of a lost event: 189 dropped from Faust's queue, 190.. delivered.
    await handle([record(o) for o in range(104, 189)])
    await handle([record(o) for o in range(190, 193)])
    assert log.reads == [(EVENTS, 0, 189, 190)]
    assert handler.batches[1] == [(EVENTS, 0, o) for o in range(189, 193)]
    assert offsets.get((EVENTS, 0)) == 193


async def test_a_skipped_head_is_read_from_the_committed_offset(
    offsets: ProcessedOffsets,
) -> None:
    log, handler = BrokerLog({(EVENTS, 1): 55}), Handler()
    handle = sequencer(log, offsets).wrap(handler)
    await handle([record(67, 1), record(68, 1)])
    assert log.reads == [(EVENTS, 1, 55, 67)]
    assert handler.batches == [[(EVENTS, 1, o) for o in range(55, 69)]]


async def test_offsets_without_records_are_crossed(offsets: ProcessedOffsets) -> None:
    log, handler = BrokerLog(), Handler()
    log.missing = {3}
    handle = sequencer(log, offsets).wrap(handler)
    await handle([record(0), record(1), record(2)])
    await handle([record(4)])
    assert handler.batches[1] == [(EVENTS, 0, 4)]
    assert offsets.get((EVENTS, 0)) == 5


async def test_partitions_are_sequenced_apart_each_in_order(offsets: ProcessedOffsets) -> None:
    log, handler = BrokerLog({(EVENTS, 1): 10, (COMMANDS, 0): 2}), Handler()
    handle = sequencer(log, offsets).wrap(handler)
    await handle([record(0, 0), record(11, 1), record(2, 0, COMMANDS), record(10, 1), record(1, 0)])
    assert handler.batches == [
        [(EVENTS, 0, 0), (EVENTS, 0, 1), (EVENTS, 1, 10), (EVENTS, 1, 11), (COMMANDS, 0, 2)]
    ]
    assert dict(offsets) == {(EVENTS, 0): 2, (EVENTS, 1): 12, (COMMANDS, 0): 3}


async def test_marks_move_only_once_the_handler_returned(offsets: ProcessedOffsets) -> None:
    log, handler = BrokerLog(), Handler()
    handle = sequencer(log, offsets).wrap(handler)
    await handle([record(0)])
    handler.fail = True
    with pytest.raises(RuntimeError):
        await handle([record(1), record(2)])
    assert offsets.get((EVENTS, 0)) == 1

    started, release = asyncio.Event(), asyncio.Event()

    async def slow(records: Sequence[SourceRecord]) -> None:
        started.set()
        await release.wait()

    async def run() -> None:
        await sequencer(log, offsets).wrap(slow)([record(1)])

    task = asyncio.create_task(run())
    await started.wait()
    assert offsets.get((EVENTS, 0)) == 1  # a commit now covers only finished work
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert offsets.get((EVENTS, 0)) == 1


async def test_a_revoked_partition_starts_again_from_the_commit(
    offsets: ProcessedOffsets,
) -> None:
    log, handler = BrokerLog({(EVENTS, 0): 0}), Handler()
    handle = sequencer(log, offsets).wrap(handler)
    await handle([record(0), record(1)])
    offsets.forget([(EVENTS, 0)])
    assert offsets.get((EVENTS, 0)) is None
    log.committed[(EVENTS, 0)] = 7  # another worker went on meanwhile
    await handle([record(7)])
    assert handler.batches[-1] == [(EVENTS, 0, 7)]
    assert log.reads == []
