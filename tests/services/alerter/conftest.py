"""Fixtures of the alerter tests: the alerter as a real child process, Slack stand-ins,
and helpers that read what the stand-ins received and what the alerter counted."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk.models.blocks import Block

from signet.dev.broker import free_port
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records.model import DeadLetter
from signet.security.secrets import MasterKeyRing, generate_master_key
from signet.settings import CommonSettings
from tests.eventually import eventually
from tests.processes import ServiceProcess, service_env
from tests.receiver import Received
from tests.services.dispatcher.topic_tail import TopicTail

PUBLIC_URL = "https://signet.example.test"
# Slack webhook URLs carry their credential in the path: the alerter must never show it.
SECRET_PATH = "/services/T0SIGNET/B0ALERTS/xoxSecretToken42"
_EVENT_LINK = re.compile(re.escape(f"{PUBLIC_URL}/embed#/events/") + r"(evt_[0-9A-Z]+)")
_DIGEST_COUNT = re.compile(r"(\d+) more")


@dataclass(slots=True, frozen=True)
class RunningAlerter:
    process: ServiceProcess
    ring: MasterKeyRing
    master_keys: str
    metrics_url: str
    consumer_group: str


def alerter_process(
    settings: CommonSettings,
    *,
    master_keys: str | None = None,
    group: str | None = None,
    **extra: str | int | float | bool,
) -> tuple[ServiceProcess, RunningAlerter]:
    """An alerter child process (not started); pass ``master_keys`` and ``group`` to start
    a second incarnation of the same one."""
    master_keys = master_keys or generate_master_key()
    group = group or f"signet-alerter-{uuid.uuid4().hex[:8]}"
    port = free_port()
    options: dict[str, str | int | float | bool] = {
        "master_keys": master_keys,
        "metrics_host": "127.0.0.1",
        "metrics_port": port,
        "consumer_group": group,
        "public_url": PUBLIC_URL,
        # the Slack stand-ins listen on 127.0.0.1 over plain http
        "allow_private_destinations": True,
        "allow_insecure_destinations": True,
        "consumer_session_timeout_seconds": 6,
        "commit_interval_seconds": 0.2,
        "storm_window_seconds": 4,
        "slack_max_attempts": 3,
        "slack_backoff_initial_seconds": 0.1,
        "slack_backoff_max_seconds": 0.5,
        "slack_timeout_seconds": 5,
        "shutdown_timeout_seconds": 15,
        "consumer_lag_interval_seconds": 1,
    }
    options.update(extra)
    env = service_env(settings, **options)
    process = ServiceProcess(
        "alerter", env, ready_url=f"http://127.0.0.1:{port}/readyz", ready_timeout=60
    )
    running = RunningAlerter(
        process,
        MasterKeyRing.parse(master_keys),
        master_keys,
        f"http://127.0.0.1:{port}/metrics",
        group,
    )
    return process, running


@pytest.fixture(scope="module")
async def producer(kafka_settings: CommonSettings) -> AsyncIterator[AsyncProducer]:
    async with AsyncProducer(kafka_settings) as started:
        yield started


@pytest.fixture(scope="module")
async def dead_letters(
    kafka_settings: CommonSettings, topics: Topics
) -> AsyncIterator[TopicTail[DeadLetter]]:
    tail = TopicTail(kafka_settings, topics.dlq, DeadLetter)
    await tail.start()
    yield tail
    await tail.stop()


def stand_in_url(port: int) -> str:
    """A Slack incoming-webhook URL on a local stand-in."""
    return f"http://127.0.0.1:{port}{SECRET_PATH}"


@dataclass(slots=True, frozen=True)
class SlackMessage:
    """One message a Slack stand-in received, validated as Block Kit."""

    raw: dict[str, Any]
    blocks: list[Block]
    request: Received

    @classmethod
    def of(cls, request: Received) -> SlackMessage:
        assert request.method == "POST" and request.path == SECRET_PATH
        assert request.headers["Content-Type"] == "application/json"
        raw = orjson.loads(request.body)
        assert isinstance(raw["text"], str) and raw["text"]
        blocks = []
        for block in raw["blocks"]:
            parsed = Block.parse(block)
            assert parsed is not None, block
            parsed.validate_json()
            assert parsed.to_dict() == block
            blocks.append(parsed)
        return cls(raw, blocks, request)

    @property
    def body(self) -> str:
        return self.request.body.decode()

    @property
    def event_ids(self) -> list[str]:
        """Events the message links to (an alert's one, a digest's examples), in order."""
        return list(dict.fromkeys(_EVENT_LINK.findall(self.body)))

    @property
    def is_digest(self) -> bool:
        return " more " in self.raw["text"]

    @property
    def digest_count(self) -> int:
        found = _DIGEST_COUNT.search(self.raw["text"])
        assert found is not None, self.raw["text"]
        return int(found.group(1))


def slack_messages(requests: list[Received]) -> list[SlackMessage]:
    return [SlackMessage.of(r) for r in requests]


async def read_metrics(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        text = await response.text()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def metric(url: str, name: str, **labels: str) -> float:
    return (await read_metrics(url)).get((name, tuple(sorted(labels.items()))), 0.0)


async def wait_for_metric(
    url: str,
    name: str,
    predicate: Callable[[float], bool],
    what: str,
    *,
    timeout: float = 30.0,
    **labels: str,
) -> float:
    """The metric's value once ``predicate`` accepts it; fails the test past ``timeout``."""
    last = [0.0]

    async def accepted() -> tuple[float] | None:
        last[0] = await metric(url, name, **labels)
        return (last[0],) if predicate(last[0]) else None

    (value,) = await eventually(accepted, lambda: f"{what}: {name}{labels} is {last[0]}", timeout)
    return value
