"""The event-type catalog enforced, on the whole stack: ingest refuses payloads that fail
a type's schema (and unknown types when the catalog is required), a deleted type is no
longer checked, the router dead-letters events produced straight to Kafka that fail it,
and a restarted service reads the catalog back from Kafka.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from services.ingest.app import IngestApp
from signet.dev.broker import free_port
from signet.kafka.topics import Topics, kafka_client_config
from signet.producer import EventProducer
from signet.records import codec
from signet.records.model import DeadLetter
from signet.settings import CommonSettings, IngestSettings
from tests.e2e.conftest import Stack
from tests.e2e.event_types import (
    ORDER_EXAMPLE,
    codes,
    event,
    new_workspace,
    order_type,
    subscribed_workspace,
)
from tests.eventually import eventually
from tests.receiver import Receiver

# -- ingest ---------------------------------------------------------------------------------


async def test_ingest_refuses_a_payload_that_fails_its_schema(
    stack: Stack, make_receiver: Callable[[], Awaitable[Receiver]]
) -> None:
    await stack.operator("PUT", "/v1/event-types/order.completed", order_type())
    receiver = await make_receiver()
    workspace = await subscribed_workspace(stack, receiver, "Orders", ["order.*"])
    key = workspace["publishable_key"]

    status, refused = await stack.emit(
        key, event("order.completed", {"order_id": "ord_1", "total_cents": "12900"})
    )
    assert status == 400, refused
    assert refused["errors"] == [
        {
            "field": "payload.total_cents",
            "code": "schema",
            "message": "'12900' is not of type 'integer'",
        }
    ]

    status, bulk = await stack.emit(
        key,
        {
            "events": [
                event("order.completed", ORDER_EXAMPLE, "ord_ok"),
                event("order.completed", {"total_cents": 1}, "ord_bad"),
                event("order.shipped", {"anything": True}, "ord_uncataloged"),
            ]
        },
        path="/v1/events/bulk",
    )
    assert status == 202, bulk
    statuses = [r["status"] for r in bulk["results"]]
    assert statuses == ["accepted", "rejected", "accepted"], bulk
    assert bulk["results"][1]["error"]["errors"] == [
        {"field": "payload.order_id", "code": "schema", "message": "is required"}
    ]

    # Only what was accepted is delivered: the valid order and the uncataloged type.
    received = await receiver.wait_for(2, timeout=30)
    delivered = sorted(orjson.loads(r.body)["resource_id"] for r in received)
    assert delivered == ["ord_ok", "ord_uncataloged"]


async def test_a_deleted_type_is_no_longer_checked_and_subscriptions_keep_working(
    stack: Stack, make_receiver: Callable[[], Awaitable[Receiver]]
) -> None:
    await stack.operator("PUT", "/v1/event-types/payout.sent", order_type())
    receiver = await make_receiver()
    workspace = await subscribed_workspace(stack, receiver, "Payouts", ["payout.sent"])
    status, _ = await stack.emit(workspace["publishable_key"], event("payout.sent", {}))
    assert status == 400

    status, _ = await stack.operator("DELETE", "/v1/event-types/payout.sent")
    assert status == 204
    status, _ = await stack.operator("GET", "/v1/event-types/payout.sent")
    assert status == 404
    status, _ = await stack.operator("DELETE", "/v1/event-types/payout.sent")
    assert status == 404

    # The portal answered after its own view read the tombstone; ingest reads it too.
    async def accepted() -> bool:
        status, _ = await stack.emit(workspace["publishable_key"], event("payout.sent", {}))
        return status == 202

    await eventually(accepted, "ingest accepting the deleted type", timeout=10)
    [received] = await receiver.wait_for(1, timeout=30)
    assert orjson.loads(received.body)["type"] == "payout.sent"

    # Created again, it continues from the version it had.
    status, again = await stack.operator("PUT", "/v1/event-types/payout.sent", order_type())
    assert (status, again["version"]) == (201, 2)


async def test_required_catalog_refuses_unknown_types(
    stack: Stack, kafka_settings: CommonSettings
) -> None:
    await stack.operator("PUT", "/v1/event-types/user.signed_up", {"description": "hello"})
    workspace, _ = await new_workspace(stack)
    settings = IngestSettings(
        kafka_bootstrap=kafka_settings.kafka_bootstrap,
        topic_prefix=kafka_settings.topic_prefix,
        partitions=kafka_settings.partitions,
        host="127.0.0.1",
        port=free_port(),
        require_cataloged_event_types=True,
    )
    async with IngestApp(settings) as app:
        await eventually(app.ready, "the second ingest ready", timeout=30)
        own = Stack(app.url, stack.portal_url, stack.operator_key, stack.http, {})
        status, refused = await own.emit(workspace["publishable_key"], event("user.left", {}))
        assert status == 400, refused
        assert codes(refused) == {"event": "unknown_event_type"}
        status, accepted = await own.emit(
            workspace["publishable_key"], event("user.signed_up", {"plan": "pro"})
        )
        assert status == 202, accepted


# -- the router, for events produced straight to Kafka --------------------------------------


def _dead_letters(settings: CommonSettings, topic: str) -> list[DeadLetter]:
    consumer = Consumer(
        {
            **kafka_client_config(settings),
            "group.id": f"catalog-test-{os.urandom(4).hex()}",
            "enable.partition.eof": True,
        }
    )
    try:
        partitions = consumer.list_topics(topic, 10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        letters: list[DeadLetter] = []
        at_end: set[int | None] = set()
        while len(at_end) < len(partitions):
            for msg in consumer.consume(500, 0.5):
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        at_end.add(msg.partition())
                    continue
                letters.append(codec.decode(msg.value(), DeadLetter))
        return letters
    finally:
        consumer.close()


async def test_the_router_dead_letters_a_kafka_event_that_fails_its_schema(
    stack: Stack,
    kafka_settings: CommonSettings,
    make_receiver: Callable[[], Awaitable[Receiver]],
) -> None:
    await stack.operator("PUT", "/v1/event-types/shipment.created", order_type())
    receiver = await make_receiver()
    workspace = await subscribed_workspace(stack, receiver, "All", ["*"])
    with EventProducer(kafka_settings) as producer:
        bad = producer.emit(
            workspace["id"],
            event="shipment.created",
            resource="shipment",
            resource_id="shp_bad",
            payload={"order_id": 7},
        )
        good = producer.emit(
            workspace["id"],
            event="shipment.created",
            resource="shipment",
            resource_id="shp_good",
            payload=ORDER_EXAMPLE,
        )
    [received] = await receiver.wait_for(1, timeout=30)
    assert orjson.loads(received.body)["id"] == good
    dlq = Topics.from_settings(kafka_settings).dlq

    async def letter() -> DeadLetter | None:
        letters = await asyncio.to_thread(_dead_letters, kafka_settings, dlq)
        return next((d for d in letters if bad in d.reason), None)

    found = await eventually(letter, "the dead letter", timeout=20)
    assert found.service == "router" and found.error_type == "CatalogRefusal"
    assert "payload.order_id (schema): 7 is not of type 'string'" in found.reason
    assert "payload.total_cents (schema): is required" in found.reason
    assert len(receiver.requests) == 1
    router = stack.processes["router"]
    metrics_url = router._ready_url.replace("/readyz", "/metrics")
    async with stack.http.get(metrics_url) as response:
        metrics = await response.text()
    assert 'signet_router_events_refused_total{code="schema"} 1.0' in metrics


# -- the catalog is on Kafka -----------------------------------------------------------------


async def test_a_restarted_service_reads_the_catalog_back(stack: Stack) -> None:
    await stack.operator("PUT", "/v1/event-types/account.closed", order_type())
    workspace, _ = await new_workspace(stack)
    for name in ("ingest", "portal"):
        process = stack.processes[name]
        await process.stop()
        await process.start()
    status, stored = await stack.operator("GET", "/v1/event-types/account.closed")
    assert status == 200 and stored["version"] == 1
    status, refused = await stack.emit(
        workspace["publishable_key"], event("account.closed", {"order_id": "x"})
    )
    assert status == 400, refused
    assert codes(refused) == {"payload.total_cents": "schema"}
