"""The router as a real child process on the real broker: commands become config
snapshots, events become deliveries, bad records become dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import orjson
import pytest
from signet_sdk.ids import now_ms

from services.router.source import expected_partition
from signet.kafka.clients import AsyncProducer
from signet.kafka.config_view import ConfigView
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import (
    CommandKind,
    DeadLetter,
    Delivery,
    Destination,
    WorkspaceCommand,
    WorkspaceConfig,
)
from signet.records.payload import delivery_id
from signet.settings import CommonSettings
from tests.eventually import eventually

from .conftest import RouterProcess, TopicReader, send_command, send_event, workspace_on
from .records import (
    command,
    create_workspace,
    event,
    publishable_key,
    put_destination,
    slack,
    webhook,
)

COMMAND_TIMEOUT = 30.0
# The portal's integration tests wait for this file before they start.
ROUTER_READY_MARKER = Path("/tmp/signet-router-ready")  # noqa: S108 - agreed with the portal

Reader = Callable[[str], TopicReader]


@pytest.fixture(scope="module")
async def router(
    kafka_settings: CommonSettings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RouterProcess]:
    process = RouterProcess(kafka_settings, str(tmp_path_factory.mktemp("router")))
    async with process:
        yield process


async def apply(
    producer: AsyncProducer, topics: Topics, view: ConfigView, cmd: WorkspaceCommand
) -> WorkspaceConfig:
    await send_command(producer, topics, cmd)
    assert await view.wait_for_command(cmd.workspace_id, cmd.id, COMMAND_TIMEOUT), (
        f"{cmd.kind} {cmd.id} not applied within {COMMAND_TIMEOUT}s"
    )
    config = view.workspace(cmd.workspace_id)
    assert config is not None
    return config


async def test_commands_become_snapshots_every_service_reads(
    router: RouterProcess,
    producer: AsyncProducer,
    topics: Topics,
    config_view: ConfigView,
    kafka_settings: CommonSettings,
    reader: Reader,
) -> None:
    ws = workspace_on(1, kafka_settings.partitions)
    key, second_key = publishable_key(), publishable_key()
    orders, alerts = webhook(event_types=["order.*"]), slack()
    create = create_workspace(ws, name="Casterly Rock", environment="staging", publishable_key=key)
    add = command(ws, CommandKind.ADD_PUBLISHABLE_KEY, publishable_key=second_key)
    put_orders, put_alerts = put_destination(ws, orders), put_destination(ws, alerts)
    revoke = command(ws, CommandKind.REVOKE_PUBLISHABLE_KEY, target_id=key.id)
    delete = command(ws, CommandKind.DELETE_DESTINATION, target_id=orders.id)

    config = await apply(producer, topics, config_view, create)
    assert (config.version, config.name, config.environment) == (1, "Casterly Rock", "staging")
    assert config_view.key_by_hash(key.sha256) is not None
    config = await apply(producer, topics, config_view, add)
    assert [k.id for k in config.publishable_keys] == [key.id, second_key.id]
    await apply(producer, topics, config_view, put_orders)
    config = await apply(producer, topics, config_view, put_alerts)
    assert config.destinations == [orders, alerts]
    config = await apply(producer, topics, config_view, revoke)
    assert config.publishable_keys[0].revoked_at == revoke.issued_at
    assert config.publishable_keys[1].revoked_at is None
    config = await apply(producer, topics, config_view, delete)
    assert config.destinations == [alerts]
    assert config.version == 6
    commands = [create, add, put_orders, put_alerts, revoke, delete]
    assert config.applied_commands == [c.id for c in commands]

    # One snapshot per command, on the workspace's own partition (co-partitioning).
    snapshots = reader(topics.workspace_config)
    records = await snapshots.wait_for(
        lambda rs: sum(m.key() == ws.encode() for m in rs) >= 6, what="six snapshots"
    )
    mine = [m for m in records if m.key() == ws.encode()]
    assert [codec.decode(m.value(), WorkspaceConfig).version for m in mine] == [1, 2, 3, 4, 5, 6]
    home = expected_partition(ws.encode(), kafka_settings.partitions)
    assert {m.partition() for m in mine} == {home}
    await asyncio.to_thread(ROUTER_READY_MARKER.touch)


async def test_a_repeated_command_is_not_applied_again(
    router: RouterProcess,
    producer: AsyncProducer,
    topics: Topics,
    config_view: ConfigView,
    kafka_settings: CommonSettings,
) -> None:
    ws = workspace_on(0, kafka_settings.partitions)
    put = put_destination(ws, webhook())
    await apply(producer, topics, config_view, create_workspace(ws))
    before = await apply(producer, topics, config_view, put)
    duplicates = await router.metric("signet_router_commands_duplicate_total")
    await send_command(producer, topics, put)  # the same command id again
    # Commands of one workspace are applied in order: once the next one shows, the
    # repeated one has been seen (and must have changed nothing).
    after = await apply(producer, topics, config_view, put_destination(ws, webhook()))
    assert after.version == before.version + 1
    assert after.applied_commands.count(put.id) == 1
    assert await router.metric("signet_router_commands_duplicate_total") == duplicates + 1


async def test_events_become_one_delivery_per_matching_destination(
    router: RouterProcess,
    producer: AsyncProducer,
    topics: Topics,
    config_view: ConfigView,
    kafka_settings: CommonSettings,
    reader: Reader,
) -> None:
    ws = workspace_on(2, kafka_settings.partitions)
    everything = webhook(event_types=["*"])
    orders = webhook(event_types=["order.*"])
    invoices = webhook(event_types=["invoice.paid"])
    disabled = webhook(event_types=["*"], enabled=False)
    alerts = slack()
    await apply(producer, topics, config_view, create_workspace(ws))
    for destination in (everything, orders, invoices, disabled, alerts):
        await apply(producer, topics, config_view, put_destination(ws, destination))
    # An unknown workspace on the same partition, and an event nobody subscribed to: both
    # are sent first, so once the later events' deliveries arrive they have been seen.
    stranger = workspace_on(2, kafka_settings.partitions)
    quiet = workspace_on(2, kafka_settings.partitions)
    await apply(producer, topics, config_view, create_workspace(quiet))
    await apply(producer, topics, config_view, put_destination(quiet, invoices_only()))
    unknown = await router.metric("signet_router_events_unrouted_total", reason="unknown_workspace")
    unmatched = await router.metric("signet_router_events_unrouted_total", reason="no_destination")
    ignored = [event(stranger), event(quiet, "user.created")]
    order, invoice = event(ws, "order.completed"), event(ws, "invoice.paid")
    routed_with = config_view.workspace(ws)
    assert routed_with is not None
    before = now_ms()
    for evt in [*ignored, order, invoice]:
        await send_event(producer, topics, evt)

    expected = {
        (order.id, everything.id),
        (order.id, orders.id),
        (invoice.id, everything.id),
        (invoice.id, invoices.id),
    }
    deliveries = reader(topics.deliveries)
    event_ids = {e.id for e in [*ignored, order, invoice]}

    def mine() -> list[tuple[bytes | None, Delivery]]:
        return [(m.key(), d) for m, d in deliveries.decoded(Delivery) if d.event_id in event_ids]

    await deliveries.wait_for(lambda _: len(mine()) >= len(expected), what="four deliveries")
    got = mine()
    assert {(d.event_id, d.destination_id) for _, d in got} == expected
    assert len(got) == len(expected)
    for key, d in got:
        assert key == d.destination_id.encode()
        assert d.id == delivery_id(d.event_id, d.destination_id, d.event_created_at)
        assert (d.workspace_id, d.attempt, d.first_attempt_at, d.replay_of) == (ws, 1, None, None)
        assert d.config_version == routed_with.version  # the dispatcher signs with one as new
        assert before <= d.due_at <= now_ms()
    for evt in (order, invoice):
        bodies = {d.body for _, d in got if d.event_id == evt.id}
        assert len(bodies) == 1, "every destination gets the same bytes"
        body = orjson.loads(bodies.pop())
        assert body["id"] == evt.id and body["type"] == evt.type
        assert body["data"] == orjson.loads(evt.payload)
        assert {d.event_created_at for _, d in got if d.event_id == evt.id} == {evt.created_at}
    assert (
        await router.metric("signet_router_events_unrouted_total", reason="unknown_workspace")
        == unknown + 1
    )
    assert (
        await router.metric("signet_router_events_unrouted_total", reason="no_destination")
        == unmatched + 1
    )


def invoices_only() -> Destination:
    return webhook(event_types=["invoice.paid"])


async def test_bad_records_are_dead_lettered_and_routing_goes_on(
    router: RouterProcess,
    producer: AsyncProducer,
    topics: Topics,
    config_view: ConfigView,
    kafka_settings: CommonSettings,
    reader: Reader,
) -> None:
    n = kafka_settings.partitions
    ws = workspace_on(0, n)
    destination = webhook()
    await apply(producer, topics, config_view, create_workspace(ws))
    await apply(producer, topics, config_view, put_destination(ws, destination))
    missing = workspace_on(0, n)
    elsewhere = workspace_on(1, n)
    good = event(ws)
    on_wrong_key = event(ws)
    bad_commands: list[tuple[bytes | None, bytes | None, str]] = [
        (ws.encode(), b"not avro at all", "bad magic"),
        (ws.encode(), codec.encode(good), "expected signet.WorkspaceCommand, got signet.Event"),
        (ws.encode(), None, "tombstone"),
        (missing.encode(), codec.encode(put_destination(missing, webhook())), "does not exist"),
        # keyed by another workspace: would be applied to the wrong shard
        (
            elsewhere.encode(),
            codec.encode(put_destination(ws, webhook())),
            "is not its workspace_id",
        ),
        (ws.encode(), codec.encode(command(ws, CommandKind.CREATE_WORKSPACE)), "has no name"),
    ]
    bad_events: list[tuple[bytes | None, bytes | None, str]] = [
        (ws.encode(), b"\xc3\x01" + b"\x00" * 8 + b"junk", "unknown schema fingerprint"),
        (ws.encode(), codec.encode(event(ws, payload=b"[1, 2]")), "must be a JSON object"),
        (ws.encode(), codec.encode(event(ws, payload=b"{oops")), "not valid JSON"),
        (elsewhere.encode(), codec.encode(on_wrong_key), "is not its workspace_id"),
        (None, codec.encode(event(ws)), "has no key"),
    ]
    for key, value, _ in bad_commands:
        await producer.send(topics.workspace_commands, value, key=key)
    for key, value, _ in bad_events:
        await producer.send(topics.events, value, key=key)
    # Still routing: a good event after the bad ones is delivered.
    await send_event(producer, topics, good)
    deliveries = reader(topics.deliveries)
    await deliveries.wait_for(
        lambda _: any(d.event_id == good.id for _, d in deliveries.decoded(Delivery)),
        what="the good event's delivery",
    )
    # And commands still apply.
    await apply(producer, topics, config_view, put_destination(ws, webhook()))

    dlq = reader(topics.dlq)
    expected = [(topics.workspace_commands, *c) for c in bad_commands] + [
        (topics.events, *e) for e in bad_events
    ]

    def unmatched() -> list[str]:
        letters = [d for _, d in dlq.decoded(DeadLetter)]
        return [
            f"{reason!r} on {topic}"
            for topic, key, value, reason in expected
            if not any(
                (d.source_topic, d.original_key, d.original_value) == (topic, key, value)
                and reason in d.reason
                and d.service == "router"
                and d.error_type in {"CodecError", "UnknownSchemaError", "InvalidRecordError"}
                for d in letters
            )
        ]

    try:
        await dlq.wait_for(lambda _: not unmatched(), what="every dead letter")
    except AssertionError as exc:
        reasons = [d.reason for _, d in dlq.decoded(DeadLetter)]
        raise AssertionError(f"{exc}; missing {unmatched()}; got {reasons}") from exc
    # Exactly one letter each: nothing was dead-lettered twice.
    assert len(dlq.records) == len(expected)
    # The wrongly keyed event produced no delivery.
    assert not any(d.event_id == on_wrong_key.id for _, d in deliveries.decoded(Delivery))
    assert await router.metric("signet_router_dead_letters_total", source="commands") == len(
        bad_commands
    )
    assert await router.metric("signet_router_dead_letters_total", source="events") == len(
        bad_events
    )


async def test_health_endpoints(router: RouterProcess) -> None:
    async with aiohttp.ClientSession() as session:
        for path in ("/healthz", "/readyz"):
            async with session.get(router.base_url + path) as response:
                assert response.status == 200
        async with session.get(router.base_url + "/metrics") as response:
            assert "signet_router_deliveries_produced_total" in await response.text()
        async with session.get(router.base_url + "/table/workspace-config") as response:
            assert response.status == 404  # no table views: they would expose secrets


async def test_kafka_metrics_count_records_consumed_produced_and_the_lag(
    router: RouterProcess,
    producer: AsyncProducer,
    topics: Topics,
    config_view: ConfigView,
    kafka_settings: CommonSettings,
    reader: Reader,
) -> None:
    group = f"{kafka_settings.topic_prefix}router"
    ws = workspace_on(1, kafka_settings.partitions)
    await apply(producer, topics, config_view, create_workspace(ws))
    await apply(producer, topics, config_view, put_destination(ws, webhook(event_types=["*"])))
    consumed = await router.metric(
        "signet_kafka_records_consumed_total", group=group, topic=topics.events
    )
    produced = await router.metric("signet_kafka_records_produced_total", topic=topics.deliveries)
    events = [event(ws) for _ in range(5)]
    for evt in events:
        await send_event(producer, topics, evt)
    ids = {e.id for e in events}
    deliveries = reader(topics.deliveries)
    await deliveries.wait_for(
        lambda _: len({d.event_id for _, d in deliveries.decoded(Delivery)} & ids) == len(ids),
        what="a delivery per event",
    )

    async def lag_settled() -> bool:
        lag = await router.metric("signet_kafka_consumer_lag", group=group, topic=topics.events)
        done = await router.metric(
            "signet_kafka_records_consumed_total", group=group, topic=topics.events
        )
        return lag == 0 and done == consumed + len(events)

    await eventually(lag_settled, "lag and consumed settled", 10)
    assert await router.metric(
        "signet_kafka_records_produced_total", topic=topics.deliveries
    ) >= produced + len(events)
    # The lag series exists per source topic (0 is a value, not an absent series).
    text = await router.metrics_text()
    assert f'signet_kafka_consumer_lag{{group="{group}",topic="{topics.events}"}}' in text
