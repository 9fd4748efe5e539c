"""Shared fixtures: a real Tansu broker for the session, fresh topics per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from signet.dev.broker import EmbeddedBroker
from signet.kafka.topics import Topics
from signet.settings import CommonSettings
from tests.topics import fresh_topics

pytest_plugins = ["tests.receiver"]


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    embedded = EmbeddedBroker()
    embedded.start()
    yield embedded
    embedded.stop()


@pytest.fixture(scope="module")
def kafka_settings(broker: EmbeddedBroker) -> CommonSettings:
    """Settings pointing at the session broker, with topics under a unique prefix."""
    return fresh_topics(broker.bootstrap)


@pytest.fixture(scope="module")
def topics(kafka_settings: CommonSettings) -> Topics:
    return Topics.from_settings(kafka_settings)
