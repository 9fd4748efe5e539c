"""The Faust adapter's two hooks into Faust's consumer: what it commits, and how long its
fetches wait. Faust objects are built in-process; only the fetch test talks to the broker."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from services.router.sequencer import ProcessedOffsets
from services.router.streams import RouterStreams
from signet.settings import CommonSettings, RouterSettings

EVENTS_1 = TP("t.events", 1)


def router_streams(tmp_path: Path, offsets: ProcessedOffsets, **settings: object) -> RouterStreams:
    return RouterStreams(RouterSettings(data_dir=tmp_path, **settings), offsets)  # type: ignore[arg-type]


def consumer_of(streams: RouterStreams) -> faust_aiokafka.Consumer:
    return cast(faust_aiokafka.Consumer, streams.app.consumer)


def faust_saw_acks(consumer: faust_aiokafka.Consumer, committed: int, acked: range) -> None:
    """Faust's bookkeeping after the lost-event trace: ``committed`` committed, then the
    agent acked ``acked`` (offset 189 was dropped from its queue, never acked)."""
    consumer._committed_offset[EVENTS_1] = committed
    consumer._acked[EVENTS_1].extend(acked)
    consumer._acked_index[EVENTS_1].update(acked)


def test_faust_alone_commits_past_an_offset_nobody_acked(tmp_path: Path) -> None:
    # Faust's own commit math, as pinned: it refuses a hole after the committed offset
    # only when it is two offsets or longer. This is how the crash-safety test lost events.
    consumer = consumer_of(router_streams(tmp_path, ProcessedOffsets()))
    faust_saw_acks(consumer, committed=189, acked=range(190, 232))
    faust_commit = faust_aiokafka.Consumer._filter_committable_offsets(consumer, [EVENTS_1])
    assert faust_commit == {EVENTS_1: 232}


def test_the_router_commits_its_processed_offsets_only(tmp_path: Path) -> None:
    offsets = ProcessedOffsets()
    consumer = consumer_of(router_streams(tmp_path, offsets))
    faust_saw_acks(consumer, committed=189, acked=range(190, 232))
    assert list(consumer._filter_tps_with_pending_acks()) == []
    assert consumer._filter_committable_offsets([EVENTS_1]) == {}

    offsets.advance(("t.events", 1), 189)  # not beyond what is committed
    assert consumer._filter_committable_offsets([EVENTS_1]) == {}
    offsets.advance(("t.events", 1), 232)  # the sequencer handled 189..231
    tps = list(consumer._filter_tps_with_pending_acks())
    assert tps == [EVENTS_1]
    assert consumer._filter_committable_offsets(tps) == {EVENTS_1: 232}
    assert list(consumer._filter_tps_with_pending_acks({"t.workspace-commands"})) == []
    # Faust's record of acked offsets is dropped rather than left to grow.
    assert not consumer._acked
    assert not consumer._acked_index


async def test_the_fetch_wait_setting_reaches_the_running_consumer(
    tmp_path: Path, kafka_settings: CommonSettings
) -> None:
    streams = router_streams(
        tmp_path,
        ProcessedOffsets(),
        **kafka_settings.model_dump(),
        fetch_wait_max_ms=37,
    )
    thread = consumer_of(streams)._thread
    consumer = thread._create_worker_consumer(cast(faust_aiokafka.Transport, streams.app.transport))
    await consumer.start()
    try:
        assert consumer._fetcher._fetch_max_wait_ms == 37
    finally:
        await consumer.stop()
