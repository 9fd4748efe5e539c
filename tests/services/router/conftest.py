"""Fixtures for the router's integration tests: a producer, a config view, topic readers,
and the router as a real child process."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import aiohttp
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition
from signet_sdk.ids import new_id

from services.router.source import expected_partition
from signet.dev.broker import free_port
from signet.kafka.clients import AsyncProducer
from signet.kafka.config_view import ConfigView
from signet.kafka.topics import Topics, kafka_client_config
from signet.records import codec
from signet.records.model import Event, Record, WorkspaceCommand
from signet.settings import CommonSettings
from tests.processes import ServiceProcess, service_env

R = TypeVar("R", bound=Record)

# Tansu's first group join waits about half the session timeout.
ROUTER_TEST_SETTINGS: dict[str, str | int | float | bool] = {
    "consumer_session_timeout_seconds": 6,
    "batch_wait_seconds": 0.005,
    "consumer_lag_interval_seconds": 0.2,
}


class RouterProcess(ServiceProcess):
    """``python -m services.router`` on its own free web port."""

    def __init__(
        self, settings: CommonSettings, tmp: str, **extra: str | int | float | bool
    ) -> None:
        self.web_port = free_port()
        env = service_env(
            settings,
            web_port=self.web_port,
            data_dir=f"{tmp}/router-{self.web_port}",
            **{**ROUTER_TEST_SETTINGS, **extra},
        )
        super().__init__("router", env, ready_url=f"{self.base_url}/readyz", ready_timeout=90)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    async def metrics_text(self) -> str:
        async with aiohttp.ClientSession() as session, session.get(f"{self.base_url}/metrics") as r:
            return await r.text()

    async def metric(self, name: str, **labels: str) -> float:
        """One sample of ``/metrics`` (0 when absent)."""
        text = await self.metrics_text()
        wanted = name + (
            "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""
        )
        for line in text.splitlines():
            sample, _, value = line.rpartition(" ")
            if sample == wanted:
                return float(value)
        return 0.0


class TopicReader:
    """Reads every partition of a topic from the beginning; tests wait with a deadline."""

    def __init__(self, settings: CommonSettings, topic: str) -> None:
        self.topic = topic
        self.records: list[Message] = []
        self._consumer = Consumer(
            {
                **kafka_client_config(settings),
                "group.id": f"test-reader-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
            }
        )
        metadata = self._consumer.list_topics(topic, 10).topics[topic]
        self._consumer.assign(
            [TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions]
        )

    async def wait_for(
        self, done: Callable[[list[Message]], bool], timeout: float = 30.0, what: str = ""
    ) -> list[Message]:
        deadline = time.monotonic() + timeout
        while not done(self.records):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what or 'condition'} not met on {self.topic} within {timeout}s; "
                    f"{len(self.records)} records read"
                )
            batch = await asyncio.to_thread(self._consumer.consume, 500, 0.2)
            self.records.extend(m for m in batch if m.error() is None)
        return self.records

    def decoded(self, record_type: type[R]) -> list[tuple[Message, R]]:
        return [(m, codec.decode(m.value(), record_type)) for m in self.records]

    def close(self) -> None:
        self._consumer.close()


@pytest.fixture(scope="module")
async def producer(kafka_settings: CommonSettings) -> AsyncIterator[AsyncProducer]:
    async with AsyncProducer(kafka_settings) as p:
        yield p


@pytest.fixture(scope="module")
async def config_view(kafka_settings: CommonSettings) -> AsyncIterator[ConfigView]:
    async with ConfigView(kafka_settings) as view:
        await view.wait_ready()
        yield view


@pytest.fixture
def reader(kafka_settings: CommonSettings) -> Any:
    readers: list[TopicReader] = []

    def open_reader(topic: str) -> TopicReader:
        readers.append(TopicReader(kafka_settings, topic))
        return readers[-1]

    yield open_reader
    for r in readers:
        r.close()


def workspace_on(partition: int, partitions: int) -> str:
    """A fresh workspace id whose records land on ``partition``."""
    while True:
        candidate = new_id("ws")
        if expected_partition(candidate.encode(), partitions) == partition:
            return candidate


async def send_command(producer: AsyncProducer, topics: Topics, cmd: WorkspaceCommand) -> None:
    await producer.send(topics.workspace_commands, codec.encode(cmd), key=cmd.workspace_id)


async def send_event(producer: AsyncProducer, topics: Topics, event: Event) -> None:
    await producer.send(topics.events, codec.encode(event), key=event.workspace_id)


@pytest.fixture
async def routers(
    kafka_settings: CommonSettings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Callable[..., RouterProcess]]:
    started: list[RouterProcess] = []
    tmp = str(tmp_path_factory.mktemp("routers"))

    def make(**extra: str | int | float | bool) -> RouterProcess:
        started.append(RouterProcess(kafka_settings, tmp, **extra))
        return started[-1]

    yield make
    for process in started:
        await process.stop()
