"""A router that dies or is stopped: the next one recovers the config table from its
changelog, routes with it, and does not apply a command twice; workers run side by side."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from signet.kafka.clients import AsyncProducer
from signet.kafka.config_view import ConfigView
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import Delivery, WorkspaceCommand, WorkspaceConfig
from signet.settings import CommonSettings

from .conftest import RouterProcess, TopicReader, send_command, send_event, workspace_on
from .records import create_workspace, event, put_destination, webhook

COMMAND_TIMEOUT = 45.0  # a restarted worker first waits out the dead one's session
Reader = Callable[[str], TopicReader]


async def apply(
    producer: AsyncProducer, topics: Topics, view: ConfigView, cmd: WorkspaceCommand
) -> WorkspaceConfig:
    await send_command(producer, topics, cmd)
    assert await view.wait_for_command(cmd.workspace_id, cmd.id, COMMAND_TIMEOUT)
    config = view.workspace(cmd.workspace_id)
    assert config is not None
    return config


def deliveries_of(reader: TopicReader, event_id: str) -> list[Delivery]:
    return [d for _, d in reader.decoded(Delivery) if d.event_id == event_id]


async def test_restarts_recover_the_table_and_never_reapply_commands(
    routers: Callable[..., RouterProcess],
    producer: AsyncProducer,
    topics: Topics,
    config_view: ConfigView,
    kafka_settings: CommonSettings,
    reader: Reader,
) -> None:
    deliveries = reader(topics.deliveries)
    # No timed commit: at the crash nothing this worker did is committed.
    first = routers(commit_interval_seconds=3600)
    await first.start()
    ws = workspace_on(0, kafka_settings.partitions)
    destination = webhook()
    await apply(producer, topics, config_view, create_workspace(ws))
    before = await apply(producer, topics, config_view, put_destination(ws, destination))
    crashed_event = event(ws)
    await send_event(producer, topics, crashed_event)
    await deliveries.wait_for(lambda _: len(deliveries_of(deliveries, crashed_event.id)) == 1)

    first.kill()  # SIGKILL: no drain, no commit
    await first.stop()
    second = routers()
    await second.start()
    # The commands and the event are processed again: the commands change nothing, the
    # event yields the same delivery id again (receivers deduplicate by webhook-id).
    after_restart = event(ws)
    await send_event(producer, topics, after_restart)
    await deliveries.wait_for(
        lambda _: len(deliveries_of(deliveries, after_restart.id)) == 1,
        timeout=COMMAND_TIMEOUT,
        what="routing with the recovered table",
    )
    again = deliveries_of(deliveries, crashed_event.id)
    assert len(again) == 2 and again[0].id == again[1].id
    assert await second.metric("signet_router_commands_duplicate_total") == 2
    config = await apply(producer, topics, config_view, put_destination(ws, webhook()))
    assert config.version == before.version + 1

    # A graceful stop commits what was done: the next worker repeats nothing.
    assert await second.stop() == 0
    third = routers()
    await third.start()
    later = event(ws)
    await send_event(producer, topics, later)
    await deliveries.wait_for(lambda _: len(deliveries_of(deliveries, later.id)) == 2)
    assert len(deliveries_of(deliveries, after_restart.id)) == 1
    config = await apply(producer, topics, config_view, put_destination(ws, webhook()))
    assert config.version == before.version + 2
    assert await third.metric("signet_router_commands_duplicate_total") == 0

    # One snapshot per applied command on the changelog, versions 1..n without repeats.
    snapshots = reader(topics.workspace_config)
    records = await snapshots.wait_for(
        lambda rs: sum(m.key() == ws.encode() for m in rs) >= config.version
    )
    versions = [
        codec.decode(m.value(), WorkspaceConfig).version for m in records if m.key() == ws.encode()
    ]
    assert versions == list(range(1, config.version + 1))


async def test_two_workers_side_by_side_share_the_partitions(
    routers: Callable[..., RouterProcess],
    producer: AsyncProducer,
    topics: Topics,
    config_view: ConfigView,
    kafka_settings: CommonSettings,
    reader: Reader,
) -> None:
    deliveries = reader(topics.deliveries)
    one, two = routers(), routers()
    await one.start()
    workspaces = [
        workspace_on(p, kafka_settings.partitions) for p in range(kafka_settings.partitions)
    ]
    for ws in workspaces:
        await apply(producer, topics, config_view, create_workspace(ws))
        await apply(producer, topics, config_view, put_destination(ws, webhook()))
    # The second worker takes some partitions over, with their table shards.
    await two.start()
    await one.wait_ready()
    events = [event(ws) for ws in workspaces]
    for evt in events:
        await send_event(producer, topics, evt)
    await deliveries.wait_for(
        lambda _: all(deliveries_of(deliveries, e.id) for e in events),
        timeout=COMMAND_TIMEOUT,
        what="a delivery for every partition's event",
    )
    routed = [
        await one.metric("signet_router_events_routed_total"),
        await two.metric("signet_router_events_routed_total"),
    ]
    assert all(count >= 1 for count in routed), f"both workers route: {routed}"


async def test_a_restarted_worker_recovers_snapshots_written_in_one_batch(
    routers: Callable[..., RouterProcess],
    producer: AsyncProducer,
    topics: Topics,
    config_view: ConfigView,
    kafka_settings: CommonSettings,
) -> None:
    """Commands of several workspaces of one partition, applied in one batch, write their
    snapshots to the changelog together. The broker of the tests (Tansu) then reports that
    partition's end short (the last batch's base offset + 1), and a recovery reading only
    up to the reported end would not know the workspaces written last: their next command
    would be dead-lettered. The restarted worker reads on to the real end."""
    first = routers()
    await first.start()
    workspaces = [workspace_on(0, kafka_settings.partitions) for _ in range(5)]
    created = [create_workspace(ws) for ws in workspaces]
    await asyncio.gather(*(send_command(producer, topics, cmd) for cmd in created))
    for cmd in created:
        assert await config_view.wait_for_command(cmd.workspace_id, cmd.id, COMMAND_TIMEOUT)
    assert await first.stop() == 0

    second = routers()
    await second.start()
    for ws in workspaces:
        config = await apply(producer, topics, config_view, put_destination(ws, webhook()))
        assert config.version == 2, ws
    assert await second.metric("signet_router_dead_letters_total", source="commands") == 0
    # The first worker stopped gracefully, committing the five commands: none is redone,
    # though the reported end of their partition lies below the committed offset.
    assert await second.metric("signet_router_commands_duplicate_total") == 0
