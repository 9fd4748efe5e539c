"""The direct-to-Kafka producer helper against the real broker: same validation as ingest,
keyed by workspace on the murmur2 partition, delivery failures surfaced by ``flush``."""

from __future__ import annotations

import time

import orjson
import pytest
from confluent_kafka import Producer
from signet_sdk.contract.events import EventInputError, event_id_for

from signet.dev.broker import free_port
from signet.errors import BrokerError
from signet.kafka.topics import Topics, kafka_client_config
from signet.producer import DeliveryFailedError, EventProducer
from signet.settings import CommonSettings
from tests.services.ingest.topic_reader import (
    contains_ids,
    kafka_partition,
    murmur2,
    read_events,
)

# Kafka's own test vectors for Utils.murmur2 (clients/src/test/.../UtilsTest.java).
KAFKA_MURMUR2_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}

WORKSPACES = [f"ws_direct_{i}" for i in range(8)]


def test_murmur2_port_matches_kafka_vectors() -> None:
    assert {k: murmur2(k) for k in KAFKA_MURMUR2_VECTORS} == KAFKA_MURMUR2_VECTORS


def test_murmur2_port_matches_a_confluent_murmur2_producer(
    kafka_settings: CommonSettings, topics: Topics
) -> None:
    # The dlq topic has the same partition count as events; nothing here reads it.
    producer = Producer({**kafka_client_config(kafka_settings), "partitioner": "murmur2_random"})
    landed: dict[str, int] = {}

    def record(err: object, msg: object) -> None:
        assert err is None, err
        landed[msg.key().decode()] = msg.partition()  # type: ignore[attr-defined]

    for key in WORKSPACES:
        producer.produce(topics.dlq, b"probe", key=key, on_delivery=record)
    assert producer.flush(20) == 0
    assert landed == {k: kafka_partition(k, kafka_settings.partitions) for k in WORKSPACES}
    assert len(set(landed.values())) > 1


async def test_emitted_events_are_keyed_partitioned_and_decodable(
    kafka_settings: CommonSettings, topics: Topics
) -> None:
    before = int(time.time() * 1000)
    with EventProducer(kafka_settings) as producer:
        ids = {
            producer.emit(
                workspace,
                event="order.completed",
                resource="order",
                resource_id=f"ord_{n}",
                payload={"order_id": f"ord_{n}", "total_cents": 12900, "n": n},
            ): workspace
            for n, workspace in enumerate(WORKSPACES)
        }
        text_payload = producer.emit(
            WORKSPACES[0],
            event="order.refunded",
            resource="order",
            resource_id="ord_text",
            payload='{ "spaced" : [1, 2] }',
        )
        producer.flush()
        assert producer.pending == 0
    after = int(time.time() * 1000)

    records = await read_events(kafka_settings, topics.events, contains_ids(*ids, text_payload))
    by_id = {r.event.id: r for r in records}
    for n, (event_id, workspace) in enumerate(ids.items()):
        record = by_id[event_id]
        assert record.key == workspace == record.event.workspace_id
        assert record.partition == kafka_partition(workspace, kafka_settings.partitions)
        assert record.event.source == "kafka"
        assert record.event.type == "order.completed"
        assert record.event.payload == orjson.dumps(
            {"order_id": f"ord_{n}", "total_cents": 12900, "n": n}
        )
        assert before <= record.event.created_at <= after
    assert by_id[text_payload].event.payload == b'{"spaced":[1,2]}'  # compacted


async def test_idempotency_key_gives_the_ingest_id(
    kafka_settings: CommonSettings, topics: Topics
) -> None:
    producer = EventProducer(kafka_settings)
    kwargs = {"event": "order.completed", "resource": "order", "resource_id": "ord_77"}
    first = producer.emit("ws_direct_idem", payload={}, id="order-77-completed", **kwargs)
    second = producer.emit("ws_direct_idem", payload={}, id="order-77-completed", **kwargs)
    await producer.flush_async()
    producer.close()
    assert first == second == event_id_for("ws_direct_idem", "order-77-completed")
    # Nothing is remembered here: both records are written, with one id.
    records = await read_events(
        kafka_settings,
        topics.events,
        lambda rs: sum(r.event.id == first for r in rs) >= 2,
    )
    assert sum(r.event.id == first for r in records) == 2


@pytest.mark.parametrize(
    ("kwargs", "fields"),
    [
        ({"event": "order completed"}, {"event"}),
        ({"event": "signet.test"}, {"event"}),
        ({"resource": ""}, {"resource"}),
        ({"resource_id": "x" * 257}, {"resource_id"}),
        ({"payload": [1, 2]}, {"payload"}),
        ({"payload": b"not json"}, {"payload"}),
        ({"payload": "[]"}, {"payload"}),
        ({"payload": {1: "non-str key"}}, {"payload"}),
        ({"payload": {"big": 2**70}}, {"payload"}),
        ({"payload": {"blob": "x" * (256 * 1024)}}, {"payload"}),
        ({"id": "has space"}, {"id"}),
        ({"workspace_id": ""}, {"workspace_id"}),
        ({"workspace_id": " ws"}, {"workspace_id"}),
        ({"workspace_id": "", "event": "", "payload": None}, {"workspace_id", "event", "payload"}),
    ],
)
def test_invalid_events_are_refused_before_producing(
    kafka_settings: CommonSettings, kwargs: dict[str, object], fields: set[str]
) -> None:
    producer = EventProducer(kafka_settings)
    values: dict[str, object] = {
        "workspace_id": "ws_direct_bad",
        "event": "order.completed",
        "resource": "order",
        "resource_id": "ord_1",
        "payload": {},
        **kwargs,
    }
    workspace_id = values.pop("workspace_id")
    with pytest.raises(EventInputError) as caught:
        producer.emit(workspace_id, **values)  # type: ignore[arg-type]
    assert {e.field for e in caught.value.errors} == fields
    assert producer.pending == 0
    producer.close()


def test_flush_raises_when_records_are_not_acknowledged(kafka_settings: CommonSettings) -> None:
    unreachable = kafka_settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
    producer = EventProducer(unreachable, **{"message.timeout.ms": 1000})
    ids = [
        producer.emit(
            "ws_direct_lost",
            event="order.completed",
            resource="order",
            resource_id=str(n),
            payload={"n": n},
        )
        for n in range(3)
    ]
    with pytest.raises(DeliveryFailedError) as caught:
        producer.flush(timeout=10)
    assert sorted(f.event_id for f in caught.value.failures) == sorted(ids)
    assert all(f.workspace_id == "ws_direct_lost" for f in caught.value.failures)
    assert caught.value.retriable
    producer.close(timeout=1)  # failures were reported once; nothing is left
    with pytest.raises(BrokerError):
        producer.emit("ws", event="a", resource="r", resource_id="1", payload={})
