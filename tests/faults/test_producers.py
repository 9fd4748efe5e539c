"""The producers across a broker stall: a client the broker fenced is replaced, what it
held fails as retriable, and writes work again after the thaw without a restart.

Before the fix, the services' producer answered every write after a 20 s freeze with
``PRODUCER_FENCED`` for as long as the process lived (issue 13)."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import CollectorRegistry

from signet.errors import BrokerError
from signet.kafka.clients import AsyncProducer
from signet.kafka.metrics import KafkaMetrics
from signet.kafka.topics import Topics
from signet.producer import EventProducer
from signet.settings import CommonSettings
from tests.eventually import eventually
from tests.faults.conftest import FreezableBroker

pytestmark = pytest.mark.timeout(120)

# Records time out while the broker is frozen: what makes librdkafka bump its producer
# epoch, which Tansu answers by fencing the producer once it is back.
MESSAGE_TIMEOUT_MS = 2000
FREEZE_SECONDS = 5


async def send_all(producer: AsyncProducer, topic: str, n: int) -> list[str]:
    async def one(i: int) -> str:
        try:
            await producer.send(topic, b"x", key=f"k{i}", timeout=10)
        except BrokerError as exc:
            assert exc.retriable
            return "retriable"
        return "ok"

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def test_a_fenced_service_producer_is_replaced_and_writes_again(
    fault_broker: FreezableBroker, fault_settings: CommonSettings
) -> None:
    topic = Topics.from_settings(fault_settings).events
    metrics = KafkaMetrics.create(CollectorRegistry())
    async with AsyncProducer(
        fault_settings, metrics, **{"message.timeout.ms": MESSAGE_TIMEOUT_MS}
    ) as producer:
        assert await send_all(producer, topic, 20) == ["ok"] * 20
        async with fault_broker.frozen(FREEZE_SECONDS):
            during = await send_all(producer, topic, 20)
        assert set(during) == {"retriable"}  # timed out: nothing pretends to be written

        async def writes_again() -> bool:
            return await send_all(producer, topic, 20) == ["ok"] * 20

        await eventually(writes_again, "twenty writes all ok after the thaw", 30, interval=0.2)
        # The broker fenced it after the stall, and it was replaced (not restarted).
        assert producer.state.replacements >= 1
        assert producer.state.dead_for is None
        counted = metrics.replacements.labels("producer")._value.get()
        assert counted == producer.state.replacements


def test_a_fenced_direct_producer_is_replaced_and_failed_events_emit_again(
    fault_broker: FreezableBroker, fault_settings: CommonSettings
) -> None:
    with EventProducer(fault_settings, **{"message.timeout.ms": MESSAGE_TIMEOUT_MS}) as producer:

        def emit(i: int) -> str:
            return producer.emit(
                "ws_faults",
                event="order.completed",
                resource="order",
                resource_id=f"o{i}",
                payload={"i": i},
                id=f"order-{i}",
            )

        emitted = {emit(i): i for i in range(10)}
        producer.flush(10)
        fault_broker.freeze()
        try:
            emitted |= {emit(i): i for i in range(10, 20)}
            time.sleep(FREEZE_SECONDS)  # the stall itself, not a wait for anything
        finally:
            fault_broker.thaw()

        # What failed is reported by id; emitting it again with the same key gives the
        # same event id (receivers dedupe on it), until nothing fails any more.
        retried = 0
        deadline = time.monotonic() + 30
        while True:
            producer.poll(0.5)
            failed = producer.take_failures()
            for failure in failed:
                assert emit(emitted[failure.event_id]) == failure.event_id
            retried += len(failed)
            if not failed and producer.pending == 0:
                break
            assert time.monotonic() < deadline, "the direct producer did not recover"
        producer.flush(10)  # raises if anything is still failing
        assert len(emitted) == 20
        assert retried >= 10  # the stall's ten timed out and were emitted again
        assert producer.replacements >= 1
