"""Fixtures of the dispatcher tests: a real dispatcher child process per test module."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import pytest

from signet.dev.broker import EmbeddedBroker, free_port
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records.model import DeadLetter, Outcome
from signet.security.secrets import MasterKeyRing, generate_master_key
from signet.settings import CommonSettings
from tests.processes import ServiceProcess, service_env
from tests.services.dispatcher.topic_tail import TopicTail
from tests.topics import fresh_topics

Setting = str | int | float | bool


@dataclass(slots=True, frozen=True)
class RunningDispatcher:
    process: ServiceProcess
    ring: MasterKeyRing
    master_keys: str
    metrics_url: str
    consumer_group: str


def dispatcher_process(
    settings: CommonSettings,
    *,
    master_keys: str | None = None,
    group: str | None = None,
    env: Mapping[str, Setting] | None = None,
    **extra: Setting,
) -> tuple[ServiceProcess, RunningDispatcher]:
    """A dispatcher child process (not started); pass ``master_keys`` and ``group`` to
    start a second incarnation of the same one. Settings come from ``env`` and ``extra``."""
    master_keys = master_keys or generate_master_key()
    group = group or f"signet-dispatcher-{uuid.uuid4().hex[:8]}"
    port = free_port()
    defaults: dict[str, Setting] = {
        # test receivers listen on 127.0.0.1 over plain http
        "allow_private_destinations": True,
        "allow_insecure_destinations": True,
        "consumer_session_timeout_seconds": 6,
        "request_timeout_seconds": 5,
        "commit_interval_seconds": 0.2,
        # Retries far enough away that a test sees exactly the attempts it caused;
        # the retry tests pass a short schedule of their own.
        "retry_delays_seconds": "[120]",
        "consumer_lag_interval_seconds": 1,
    }
    env = service_env(
        settings,
        master_keys=master_keys,
        metrics_host="127.0.0.1",
        metrics_port=port,
        consumer_group=group,
        **{**defaults, **(env or {}), **extra},
    )
    process = ServiceProcess(
        "dispatcher", env, ready_url=f"http://127.0.0.1:{port}/readyz", ready_timeout=60
    )
    running = RunningDispatcher(
        process,
        MasterKeyRing.parse(master_keys),
        master_keys,
        f"http://127.0.0.1:{port}/metrics",
        group,
    )
    return process, running


@pytest.fixture(scope="module")
async def dispatcher(kafka_settings: CommonSettings) -> AsyncIterator[RunningDispatcher]:
    process, running = dispatcher_process(kafka_settings)
    async with process:
        yield running


@pytest.fixture(scope="module")
async def producer(kafka_settings: CommonSettings) -> AsyncIterator[AsyncProducer]:
    async with AsyncProducer(kafka_settings) as started:
        yield started


@pytest.fixture(scope="module")
async def outcomes(
    kafka_settings: CommonSettings, topics: Topics
) -> AsyncIterator[TopicTail[Outcome]]:
    tail = TopicTail(kafka_settings, topics.outcomes, Outcome)
    await tail.start()
    yield tail
    await tail.stop()


@pytest.fixture(scope="module")
async def dead_letters(
    kafka_settings: CommonSettings, topics: Topics
) -> AsyncIterator[TopicTail[DeadLetter]]:
    tail = TopicTail(kafka_settings, topics.dlq, DeadLetter)
    await tail.start()
    yield tail
    await tail.stop()


def single_partition_settings(broker: EmbeddedBroker) -> CommonSettings:
    """Topics of one partition each: every destination shares the one partition."""
    return fresh_topics(broker.bootstrap, partitions=1)
