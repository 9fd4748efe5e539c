"""The event-type catalog through the whole stack: the operator stores types, a workspace
session reads them, ingest refuses payloads that fail a type's schema, the router
dead-letters events produced straight to Kafka that fail it, the test endpoint sends a
type's example, and a restarted service reads the catalog back from Kafka."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
import standardwebhooks
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from services.ingest.app import IngestApp
from signet.dev.broker import free_port
from signet.kafka.topics import Topics, kafka_client_config
from signet.producer import EventProducer
from signet.records import codec
from signet.records.model import DeadLetter
from signet.settings import CommonSettings, IngestSettings
from tests.e2e.conftest import Stack
from tests.eventually import eventually
from tests.receiver import Receiver

ORDER_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["order_id", "total_cents"],
    "properties": {
        "order_id": {"type": "string"},
        "total_cents": {"$ref": "#/$defs/cents"},
    },
    "$defs": {"cents": {"type": "integer", "minimum": 0}},
}
ORDER_EXAMPLE = {"order_id": "ord_lannister_77", "total_cents": 12900}


def order_type(**overrides: Any) -> dict[str, Any]:
    return {
        "description": "An order was paid for",
        "schema": ORDER_SCHEMA,
        "example": ORDER_EXAMPLE,
        **overrides,
    }


def event(event_type: str, payload: dict[str, Any], resource_id: str = "ord_1") -> dict[str, Any]:
    return {
        "event": event_type,
        "resource": "order",
        "resource_id": resource_id,
        "payload": payload,
    }


async def new_workspace(stack: Stack) -> tuple[dict[str, Any], str]:
    status, workspace = await stack.operator(
        "POST", "/v1/workspaces", {"name": "Casterly", "environment": "production"}
    )
    assert status == 201, workspace
    status, session = await stack.operator(
        "POST", "/v1/sessions", {"workspace_id": workspace["id"], "role": "admin"}
    )
    assert status == 201, session
    return workspace, session["token"]


async def subscribed_workspace(
    stack: Stack, receiver: Receiver, name: str, event_types: list[str]
) -> dict[str, Any]:
    """A new workspace with one webhook destination, ``name``, to ``receiver``."""
    workspace, token = await new_workspace(stack)
    status, created = await stack.workspace(
        token,
        "POST",
        "/v1/workspace/destinations",
        {"type": "webhook", "name": name, "url": receiver.url, "event_types": event_types},
    )
    assert status == 201, created
    return workspace


def codes(answer: Any) -> dict[str, str]:
    """field → code, every error in the one shape."""
    for error in answer["errors"]:
        assert set(error) == {"field", "code", "message"}, answer
    return {e["field"]: e["code"] for e in answer["errors"]}


# -- the operator API ---------------------------------------------------------------------


async def test_put_creates_then_replaces_with_a_growing_version(stack: Stack) -> None:
    status, created = await stack.operator("PUT", "/v1/event-types/invoice.paid", order_type())
    assert status == 201, created
    assert created["name"] == "invoice.paid"
    assert created["version"] == 1
    assert created["schema"] == ORDER_SCHEMA and created["example"] == ORDER_EXAMPLE
    assert created["deprecated"] is False

    status, replaced = await stack.operator(
        "PUT", "/v1/event-types/invoice.paid", order_type(deprecated=True)
    )
    assert status == 200, replaced
    assert replaced["version"] == 2 and replaced["deprecated"] is True

    # The same again changes nothing, so the version stays.
    status, same = await stack.operator(
        "PUT", "/v1/event-types/invoice.paid", order_type(deprecated=True)
    )
    assert (status, same["version"]) == (200, 2)

    status, one = await stack.operator("GET", "/v1/event-types/invoice.paid")
    assert status == 200 and one == replaced
    status, listed = await stack.operator("GET", "/v1/event-types")
    assert status == 200
    assert replaced in listed["data"]


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (order_type(schema={"type": "objekt"}), "schema.type", "invalid"),
        (
            order_type(schema={"$ref": "https://example.com/order.json"}),
            "schema.$ref",
            "invalid",
        ),
        (
            order_type(schema={"type": "object", "description": "x" * (64 * 1024)}, example=None),
            "schema",
            "too_large",
        ),
        (
            order_type(example={"order_id": "ord_1", "total_cents": -5}),
            "example.total_cents",
            "schema",
        ),
        (order_type(example={"total_cents": 5}), "example.order_id", "schema"),
        (order_type(schema=[1]), "schema", "type"),
        (order_type(deprecated="yes"), "deprecated", "type"),
        ({"schema": None}, "description", "required"),
    ],
)
async def test_a_bad_type_is_refused_naming_the_field(
    stack: Stack, body: dict[str, Any], field: str, code: str
) -> None:
    status, answer = await stack.operator("PUT", "/v1/event-types/refund.issued", body)
    assert status == 400, answer
    assert codes(answer).get(field) == code, answer
    status, _ = await stack.operator("GET", "/v1/event-types/refund.issued")
    assert status == 404  # nothing was stored


@pytest.mark.parametrize("name", ["signet.test", "order..completed", "order completed"])
async def test_a_name_outside_the_event_name_rule_is_refused(stack: Stack, name: str) -> None:
    status, answer = await stack.operator("PUT", f"/v1/event-types/{name}", order_type())
    assert status == 400, answer
    assert "name" in codes(answer), answer


async def test_the_operator_key_is_required(stack: Stack) -> None:
    status, _ = await stack._call(
        "PUT", stack.portal_url + "/v1/event-types/order.x", "not-the-key", order_type()
    )
    assert status == 401


# -- what a workspace sees ----------------------------------------------------------------


async def test_a_viewer_session_reads_the_catalog(stack: Stack) -> None:
    await stack.operator("PUT", "/v1/event-types/customer.created", {"description": "new"})
    workspace, _ = await new_workspace(stack)
    status, session = await stack.operator(
        "POST", "/v1/sessions", {"workspace_id": workspace["id"], "role": "viewer"}
    )
    assert status == 201
    status, page = await stack.workspace(session["token"], "GET", "/v1/workspace/event-types")
    assert status == 200, page
    names = [t["name"] for t in page["data"]]
    assert "customer.created" in names and names == sorted(names)
    customer = next(t for t in page["data"] if t["name"] == "customer.created")
    assert customer["schema"] is None and customer["example"] is None
    status, _ = await stack.workspace("forged", "GET", "/v1/workspace/event-types")
    assert status == 401


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


# -- the test endpoint -----------------------------------------------------------------------


async def test_the_test_endpoint_sends_a_types_example(
    stack: Stack, make_receiver: Callable[[], Awaitable[Receiver]]
) -> None:
    await stack.operator("PUT", "/v1/event-types/order.refunded", order_type())
    await stack.operator("PUT", "/v1/event-types/order.noexample", {"description": "bare"})
    _, token = await new_workspace(stack)
    receiver = await make_receiver()
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    status, destination = await stack.workspace(
        token,
        "POST",
        "/v1/workspace/destinations",
        {
            "type": "webhook",
            "name": "Test me",
            "url": receiver.url,
            "event_types": ["order.*"],
            "secret": secret,
        },
    )
    assert status == 201, destination
    test_path = f"/v1/workspace/destinations/{destination['id']}/test"

    status, result = await stack.workspace(
        token, "POST", test_path, {"event_type": "order.refunded"}
    )
    assert status == 200, result
    assert result["status"] == "delivered"
    [typed] = await receiver.wait_for(1, timeout=30)
    standardwebhooks.Webhook(secret).verify(typed.body, typed.headers)
    body = orjson.loads(typed.body)
    assert body["type"] == "order.refunded" and body["data"] == ORDER_EXAMPLE
    assert body["resource"] == "signet.test" and body["resource_id"] == destination["id"]
    # Marked as a test in the log too.
    status, logged = await stack.workspace(token, "GET", f"/v1/workspace/events/{body['id']}")
    assert status == 200, logged
    assert logged["type"] == "order.refunded" and logged["resource"] == "signet.test"

    status, missing = await stack.workspace(token, "POST", test_path, {"event_type": "order.nope"})
    assert status == 404, missing
    status, bare = await stack.workspace(
        token, "POST", test_path, {"event_type": "order.noexample"}
    )
    assert status == 400, bare
    assert codes(bare) == {"event_type": "invalid"}

    status, plain = await stack.workspace(token, "POST", test_path)
    assert status == 200, plain
    received = await receiver.wait_for(2, timeout=30)
    assert orjson.loads(received[1].body)["type"] == "signet.test"


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
