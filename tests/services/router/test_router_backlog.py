"""A worker that starts with a backlog and a config table to recover: the shape of every
restart after a crash under load. Faust drops part of the backlog it fetches while the
table recovers (``services/router/streams.py``); the router must still route all of it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest

from signet.dev.broker import EmbeddedBroker
from signet.kafka.clients import AsyncProducer
from signet.kafka.config_view import ConfigView
from signet.kafka.topics import Topics, ensure_topics
from signet.records import codec
from signet.records.model import Delivery, WorkspaceCommand
from signet.settings import CommonSettings

from .conftest import RouterProcess, TopicReader, send_command, workspace_on
from .records import create_workspace, event, put_destination, webhook

# More partitions make Faust's end-of-recovery seek (one committed-offset request per
# partition) longer, and with it the window in which it drops what it fetched. Whether a
# start hits that window is a matter of timing (about half of them did, unfixed), so the
# worker is restarted a few times.
PARTITIONS = 8
BACKLOG_PER_PARTITION = 150
RESTARTS = 3
TIMEOUT = 45.0
Reader = Callable[[str], TopicReader]


@pytest.fixture(scope="module")
def kafka_settings(broker: EmbeddedBroker) -> CommonSettings:
    settings = CommonSettings(
        kafka_bootstrap=broker.bootstrap,
        topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
        partitions=PARTITIONS,
        deliveries_partitions=3,
    )
    ensure_topics(settings)
    return settings


async def apply(
    producer: AsyncProducer, topics: Topics, view: ConfigView, cmd: WorkspaceCommand
) -> None:
    await send_command(producer, topics, cmd)
    assert await view.wait_for_command(cmd.workspace_id, cmd.id, TIMEOUT)


@pytest.mark.timeout(300)
async def test_a_worker_starting_with_a_backlog_routes_all_of_it(
    routers: Callable[..., RouterProcess],
    producer: AsyncProducer,
    topics: Topics,
    config_view: ConfigView,
    reader: Reader,
) -> None:
    deliveries = reader(topics.deliveries)
    routed = RoutedEvents(deliveries)
    worker = routers()
    await worker.start()
    workspaces = [workspace_on(p, PARTITIONS) for p in range(PARTITIONS)]
    for ws in workspaces:
        await apply(producer, topics, config_view, create_workspace(ws))
        await apply(producer, topics, config_view, put_destination(ws, webhook()))

    for restart in range(1, RESTARTS + 1):
        assert await worker.stop() == 0
        backlog = [event(ws) for _ in range(BACKLOG_PER_PARTITION) for ws in workspaces]
        await asyncio.gather(
            *(producer.send_nowait(topics.events, codec.encode(e), e.workspace_id) for e in backlog)
        )
        worker = routers()
        await worker.start()
        wanted = {e.id for e in backlog}
        await deliveries.wait_for(
            routed.include(wanted),
            timeout=TIMEOUT,
            what=f"restart {restart}: a delivery for each of the {len(wanted)} backlog events",
        )


class RoutedEvents:
    """The event ids of the deliveries a reader has read so far (decoded once each)."""

    def __init__(self, reader: TopicReader) -> None:
        self._reader = reader
        self._seen = 0
        self._ids: set[str] = set()

    def include(self, wanted: set[str]) -> Callable[[object], bool]:
        """A ``TopicReader.wait_for`` condition: every one of ``wanted`` has a delivery."""
        return lambda _: wanted <= self.ids()

    def ids(self) -> set[str]:
        fresh = self._reader.records[self._seen :]
        self._seen += len(fresh)
        self._ids.update(codec.decode(m.value(), Delivery).event_id for m in fresh)
        return self._ids
